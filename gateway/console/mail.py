"""Console page for the mail queue: what was sent, what failed and why, and sending a failed mail again."""
from flask import request, url_for

from gateway.console import act, console, listing_query, needs, query_of_this_page, render_page
from gateway.context import services
from nszm.contracts.notify import MAIL_STATUSES


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
