// Feedback buttons (delegated: rows are replaced on refresh). JSON POSTs to the API.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-feedback]");
  if (!button) return;
  const d = button.dataset;
  const [url, body, done] = d.feedback === "expected"
    ? [`/api/v1/anomalies/${d.id}/expected`, {}, `Anomaly #${d.id} marked expected.`]
    : ["/api/v1/mutes",
       { stream: d.stream, template_id: d.template ? Number(d.template) : null, for: "1h",
         reason: "muted from the UI" },
       `Muted ${d.template ? "template #" + d.template + " on " : "stream "}${d.stream} for 1h.`];
  const msg = document.getElementById("feedback-msg");
  button.disabled = true;
  try {
    // Absolute: after http://user:token@host/ the base URL keeps the credentials, and fetch
    // refuses relative URLs then; the browser still sends the Basic credentials it holds.
    const r = await fetch(location.origin + url, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    msg.textContent = r.ok ? done : `Failed: ${(await r.json()).error || r.status}`;
  } catch (e) {
    msg.textContent = "Failed: server unreachable.";
  }
  button.disabled = false;
  setTimeout(() => { msg.textContent = ""; }, 5000);
  refresh();
});
