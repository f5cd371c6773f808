// The phone simulator's inboxes refresh themselves: each asks for its handset's latest texts
// and calls every second and a half. New texts are added to the list one by one (so that a
// screen reader announces the new text, not the whole inbox again), a text whose status moved
// is redrawn in place, and the calls are redrawn as a whole.
(function () {
  "use strict";

  function merge(box, html) {
    var next = document.createElement("div");
    next.innerHTML = html;
    var list = box.querySelector("ol.messages");
    var nextList = next.querySelector("ol.messages");
    if (!list || !nextList) {
      box.innerHTML = html;
      return;
    }
    nextList.querySelectorAll("li[data-sid]").forEach(function (item) {
      var mine = list.querySelector('li[data-sid="' + item.dataset.sid + '"]');
      if (!mine) {
        list.appendChild(item);
      } else if (mine.innerHTML !== item.innerHTML) {
        mine.innerHTML = item.innerHTML;
      }
    });
    var empty = box.querySelector("p.empty");
    if (empty && !next.querySelector("p.empty")) {
      empty.remove();
    }
    var calls = box.querySelector("ul.calls");
    var nextCalls = next.querySelector("ul.calls");
    if (calls && nextCalls) {
      calls.replaceWith(nextCalls);
    } else if (nextCalls) {
      box.appendChild(nextCalls);
    }
  }

  function refresh(box) {
    var url = "/console/phones/inbox?h=" + encodeURIComponent(box.dataset.inbox);
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (answer) {
        if (answer.redirected) {
          // Signed out meanwhile (the session cookie ran out): to the sign-in page.
          window.location.assign(answer.url);
          return null;
        }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        if (html !== null && html !== box.dataset.last) {
          box.dataset.last = html;
          merge(box, html);
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
