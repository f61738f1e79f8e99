// Pufa Bot staff dashboard: while a report compiles (or a roster imports), asks the job's
// JSON every two seconds, moves the progress bar, and reloads the page once it has ended.
// Plain JavaScript, no library; without it the page refreshes itself (a meta refresh).
(function () {
  "use strict";
  var api = document.body.getAttribute("data-job");
  if (!api || !window.fetch) {
    return;
  }
  var bar = document.querySelector('[data-field="percent"]');
  var step = document.querySelector('[data-field="step"]');

  function ask() {
    fetch(api, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (job) {
        if (!job) {
          return;
        }
        if (job.status !== "running") {
          window.location.reload();
          return;
        }
        if (bar) {
          bar.value = job.percent;
          bar.textContent = job.percent + "%";
        }
        if (step) {
          step.textContent = job.step;
        }
        window.setTimeout(ask, 2000);
      })
      .catch(function () {
        window.setTimeout(ask, 5000);
      });
  }

  window.setTimeout(ask, 1000);
})();
