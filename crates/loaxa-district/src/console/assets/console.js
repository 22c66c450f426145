// The console's only script: parts of a page marked data-refresh="URL" are re-fetched every
// second (or data-every="ms") and replaced by the server's fresh HTML, so the fleet and a send's
// outcomes stay live without reloading the page. Everything else works without JavaScript.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const part of document.querySelectorAll("[data-refresh]")) {
    const every = Number(part.dataset.every || 1000);
    const refresh = async () => {
      try {
        const response = await fetch(part.dataset.refresh, { credentials: "same-origin" });
        if (response.ok) part.innerHTML = await response.text();
      } catch (_) {
        // The console is unreachable for a moment: keep what is shown and try again.
      }
      setTimeout(refresh, every);
    };
    setTimeout(refresh, every);
  }
});
