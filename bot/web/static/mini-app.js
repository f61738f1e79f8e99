// The participant pages opened as a Telegram Mini App: hand the launch data Telegram
// gives the page to the server, which checks its signature and signs this device in.
// Telegram's own script is not loaded (no CDN): its object is read when a page has it,
// else the data Telegram appends to the address (#tgWebAppData=...).
(function () {
  "use strict";
  var form = document.getElementById("mini-app-login");
  if (!form) {
    return;
  }
  var app = window.Telegram && window.Telegram.WebApp;
  var data = app && app.initData ? app.initData : "";
  if (!data) {
    data = new URLSearchParams(window.location.hash.slice(1)).get("tgWebAppData") || "";
  }
  if (!data) {
    document.getElementById("mini-app-wait").hidden = true;
    document.getElementById("mini-app-outside").hidden = false;
    return;
  }
  var proxy = window.TelegramWebviewProxy;
  if (proxy && typeof proxy.postEvent === "function") {
    proxy.postEvent("web_app_ready", "");
    proxy.postEvent("web_app_expand", ""); // the whole screen for the questions
  }
  form.elements.init_data.value = data;
  form.submit();
})();
