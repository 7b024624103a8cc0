"""Console pages for the mail queue (what was sent, what failed and why, sending a failed mail again) and
the suppression list (who gets no mail and why, lifting an entry)."""
from flask import request, url_for

from gateway.console import act, console, listing_query, needs, query_of_this_page, render_page
from gateway.context import services
from nszm.contracts.notify import MAIL_STATUSES, SUPPRESSION_REASONS


@console.route("/mail")
@needs("mailouts")
def mail_queue():
    query = listing_query("status", "to")
    if "status" not in request.args:
        query["status"] = "failed"
    return render_page("mail_queue.html", listing=services().notify.list_mails(query), statuses=MAIL_STATUSES,
                current=query.get("status"), to=request.args.get("to", ""))


@console.route("/mail/<mail_id>/retry", methods=["POST"])
@needs("mailouts")
def retry_mail(mail_id):
    return act(lambda: services().notify.retry_mail(mail_id), "E-mail je znovu ve frontě.",
               url_for("console.mail_queue", **query_of_this_page()))


@console.route("/suppressions")
@needs("mailouts")
def suppressions():
    query = listing_query("reason", "q")
    return render_page("suppressions.html", listing=services().notify.list_suppressions(query),
                       reasons=SUPPRESSION_REASONS, current=query.get("reason"), q=request.args.get("q", ""))


@console.route("/suppressions/lift", methods=["POST"])
@needs("mailouts")
def lift_suppression():
    email = request.form.get("email", "")
    return act(lambda: services().notify.lift_suppression({"email": email}),
               f"Adresa {email} je ze seznamu blokovaných odstraněna.",
               url_for("console.suppressions", **query_of_this_page()))
