// The phone simulator's inboxes refresh themselves: each asks for its handset's latest texts
// and calls every second and a half, and is redrawn only when they changed.
(function () {
  "use strict";
  function refresh(box) {
    var url = "/console/phones/inbox?h=" + encodeURIComponent(box.dataset.inbox);
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (html !== null && html !== box.dataset.last) {
          box.dataset.last = html;
          box.innerHTML = html;
        }
      })
      .catch(function () { /* the next round tries again */ });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("[data-inbox]");
    if (!boxes.length) { return; }
    setInterval(function () { boxes.forEach(refresh); }, 1500);
  });
})();
