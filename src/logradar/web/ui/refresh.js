// Swap in fresh content every few seconds, keeping expanded examples open.
async function refresh() {
  // Not while hidden, nor while someone is using a form of the page (it would be replaced).
  if (document.hidden || document.activeElement?.closest("#live form")) return;
  try {
    const r = await fetch(location.href, { cache: "no-store", headers: { Accept: "text/html" } });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    const fresh = doc.getElementById("live");
    const current = document.getElementById("live");
    const health = doc.getElementById("health");
    if (!fresh || !current) return;
    current.querySelectorAll("details[open]").forEach((d) => {
      const twin = fresh.querySelector("#" + CSS.escape(d.id));
      if (twin) twin.open = true;
    });
    current.replaceWith(fresh);
    if (health) document.getElementById("health")?.replaceWith(health);
  } catch (e) {
    // Server unreachable: keep showing the last content.
  }
}
