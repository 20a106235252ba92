// Live preview: the server announces each finished rebuild over Server-Sent
// Events; a page built from an older version reloads itself.
(function () {
  "use strict";
  var shown = document.documentElement.dataset.version;
  if (shown === undefined || !window.EventSource) {
    return;
  }
  var events = new EventSource("/events");
  events.addEventListener("build", function (event) {
    if (event.data !== shown) {
      events.close();
      window.location.reload();
    }
  });
})();
