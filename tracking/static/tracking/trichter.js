/*
 * Trichter website tracking (README, "Website tracking"). Embed with one line:
 *   <script src="https://crm.example.com/static/tracking/trichter.js" data-site="ts_…" async></script>
 * Sends a page view on load, a download when a link to a file is clicked, and on submit of a
 * <form data-trichter-identify> the form's email (and first_name/last_name) so that the visitor's
 * history is attached to the contact. The visitor id is a first-party cookie, trichter_aid.
 * Load it only after the visitor has consented.
 */
(function () {
  "use strict";

  var COOKIE = "trichter_aid";
  var YEAR = 365 * 24 * 60 * 60;
  var FILES = /\.(pdf|zip|rar|7z|gz|tgz|docx?|xlsx?|pptx?|odt|ods|odp|rtf|csv|txt|epub|dmg|exe|msi|mp3|mp4)$/i;
  var TOPIC = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  var script = document.currentScript || document.querySelector("script[data-site][src*='/tracking/trichter.js']");
  if (!script || !script.getAttribute("data-site") || !window.JSON) {
    return;
  }
  var endpoint = new URL(script.src, location.href).origin + "/t/collect/?site=" + encodeURIComponent(script.getAttribute("data-site"));

  function uuid() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function visitorId() {
    var match = document.cookie.match(/(?:^|;\s*)trichter_aid=([^;]+)/);
    var id = match && UUID.test(match[1]) ? match[1] : uuid();
    // Renewed on every page, so the year counts from the last visit.
    document.cookie = COOKIE + "=" + id + "; Max-Age=" + YEAR + "; Path=/; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
    return id;
  }

  var anonymousId = visitorId();

  function cut(value, max) {
    return String(value || "").slice(0, max);
  }

  function send(event, fields) {
    var payload = { event: event, event_id: uuid(), anonymous_id: anonymousId };
    Object.keys(fields).forEach(function (key) {
      if (fields[key]) {
        payload[key] = fields[key];
      }
    });
    var body = JSON.stringify(payload);
    // A string body goes as text/plain: a "simple" request, so no CORS preflight, and a beacon is
    // delivered even when the page is being left (a form submit, a download).
    if (navigator.sendBeacon && navigator.sendBeacon(endpoint, body)) {
      return;
    }
    if (window.fetch) {
      fetch(endpoint, {
        method: "POST",
        body: body,
        headers: { "Content-Type": "text/plain" },
        credentials: "omit",
        keepalive: true,
      }).catch(function () {});
    }
  }

  function pageUrl() {
    return cut(location.href.split("#")[0], 2000);
  }

  send("page_view", { url: pageUrl(), title: cut(document.title, 300), referrer: cut(document.referrer, 2000) });

  document.addEventListener("click", function (e) {
    var link = e.target && e.target.closest ? e.target.closest("a[href]") : null;
    if (!link || !/^https?:$/.test(link.protocol)) {
      return;
    }
    if (link.hasAttribute("data-trichter-download") || FILES.test(link.pathname)) {
      var topic = link.getAttribute("data-topic") || "";
      send("download", {
        url: cut(link.href.split("#")[0], 2000),
        referrer: pageUrl(),
        topic: TOPIC.test(topic) ? topic : "",
      });
    }
  }, true);

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || !form.matches || !form.matches("form[data-trichter-identify]")) {
      return;
    }
    function value(selector) {
      var input = form.querySelector(selector);
      return input ? String(input.value || "").trim() : "";
    }
    var email = value("input[type=email], input[name=email]");
    if (!email) {
      return;
    }
    send("identify", {
      url: pageUrl(),
      email: cut(email, 254),
      first_name: cut(value("input[name=first_name]"), 150),
      last_name: cut(value("input[name=last_name]"), 150),
    });
  }, true);
})();
