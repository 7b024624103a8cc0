// The console's only script: a live recipient count while composing, a moving progress bar while
// sending, and at a session's door the code field that keeps the focus and the phone's camera.
"use strict";

function csrfToken(form) {
  const field = form.querySelector("input[name=csrf]");
  return field ? field.value : "";
}

function liveCount() {
  const form = document.getElementById("compose");
  const shown = document.getElementById("recipient-count");
  if (!form || !shown) return;
  let pending;
  const refresh = () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const answer = await fetch(form.dataset.countUrl, {
        method: "POST", body: new FormData(form), headers: { "X-CSRF-Token": csrfToken(form) },
      });
      const body = await answer.json();
      const held = body.held ? ` (${body.held} adres vynecháno: odhlášené nebo odmítnuté)` : "";
      shown.textContent = answer.ok ? `${body.recipients}${held}` : "–";
    }, 250);
  };
  form.addEventListener("change", refresh);
  refresh();
}

function liveProgress() {
  const box = document.getElementById("progress");
  if (!box || !["scheduled", "sending"].includes(box.dataset.status)) return;
  const labels = JSON.parse(box.dataset.labels || "{}");
  const tick = async () => {
    const answer = await fetch(box.dataset.url, { headers: { Accept: "application/json" } });
    if (!answer.ok) return;
    const m = await answer.json();
    const total = m.total || m.recipients || 1;
    const done = m.sent + m.failed + m.skipped;
    document.getElementById("bar").max = total;
    document.getElementById("bar").value = done;
    document.getElementById("percent").textContent = `${Math.round((done / total) * 100)} %`;
    document.getElementById("status").textContent = labels[m.status] || m.status;
    document.getElementById("counts").textContent =
      `odesláno ${m.sent} · chyby ${m.failed} · přeskočeno ${m.skipped}`;
    if (["scheduled", "sending"].includes(m.status)) setTimeout(tick, 1000);
    else window.location.reload();
  };
  setTimeout(tick, 500);
}

function doorScanner() {
  const form = document.getElementById("scan");
  if (!form) return;
  const code = form.querySelector("#code");
  // Focused before the page counts as loaded (autofocus alone comes a moment later): a scan that
  // arrives at once still lands in the field.
  code.focus();
  // A scanner types like a keyboard: whatever is typed with nothing else in focus goes to the code.
  document.addEventListener("keydown", (event) => {
    if (document.activeElement === document.body && event.key.length === 1 && !event.ctrlKey && !event.altKey) {
      code.focus();
    }
  });
  const camera = document.getElementById("camera");
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  camera.hidden = false;
  camera.addEventListener("click", async () => {
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    const video = document.getElementById("viewfinder");
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.hidden = false;
    await video.play();
    const look = async () => {
      const [found] = await detector.detect(video);
      if (!found) { setTimeout(look, 250); return; }
      video.srcObject.getTracks().forEach((track) => track.stop());
      code.value = found.rawValue;
      form.submit();
    };
    look();
  });
}

document.addEventListener("DOMContentLoaded", () => { liveCount(); liveProgress(); doorScanner(); });
