// Pufa Bot staff dashboard: polls the overview's JSON and updates the table in place.
// Plain JavaScript, no library; the page works without it (server-rendered).
(function () {
  "use strict";
  var body = document.body;
  var api = body.getAttribute("data-api");
  var seconds = parseInt(body.getAttribute("data-poll"), 10) || 15;
  if (!api || !window.fetch) {
    return;
  }
  var FIELDS = ["enrolled", "registered", "took_part", "completed", "passed", "rate"];
  var updatedLabel = document.getElementById("updated");
  var updatedTemplate = updatedLabel ? updatedLabel.textContent : "";
  var shownTime = updatedTemplate.match(/\d{2}:\d{2}:\d{2}/);

  function fill(rowElement, row) {
    FIELDS.forEach(function (field) {
      var cell = rowElement.querySelector('[data-field="' + field + '"]');
      var value = String(row[field]);
      if (cell && cell.textContent !== value) {
        cell.textContent = value;
      }
    });
    if (row.unit_id !== null) {
      rowElement.classList.toggle("low", Boolean(row.low));
    }
  }

  function apply(data) {
    var complete = true;
    data.sections.forEach(function (section) {
      var block = document.querySelector('[data-section="' + section.key + '"]');
      if (!block) {
        complete = false;
        return;
      }
      section.rows.forEach(function (row) {
        var element = block.querySelector('tr[data-unit="' + row.unit_id + '"]');
        if (element) {
          fill(element, row);
        } else {
          complete = false;
        }
      });
      var summary = block.querySelector('[data-field="campaign_total"]');
      if (summary && section.campaign_total && summary.textContent !== section.campaign_total) {
        summary.textContent = section.campaign_total;
      }
      var total = block.querySelector('tr[data-unit="total"]');
      if (total) {
        fill(total, section.total);
      }
    });
    if (updatedLabel && shownTime) {
      updatedLabel.textContent = updatedTemplate.replace(shownTime[0], data.updated);
    }
    body.setAttribute("data-refreshed", data.updated);
    return complete;
  }

  function poll() {
    fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) {
          window.location.reload();  // signed out or rights gone: the page says so
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data && !apply(data)) {
          window.location.reload();  // a new campaign or school: render it whole
        }
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ })
      .then(function () {
        window.setTimeout(poll, seconds * 1000);
      });
  }

  window.setTimeout(poll, seconds * 1000);
})();
