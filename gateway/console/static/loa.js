// "What will be said" preview and the SMS cost preview; the console works without them.
(function () {
  var btn = document.getElementById("preview-btn");
  if (btn) {
    btn.addEventListener("click", function () {
      var out = document.getElementById("spoken");
      out.hidden = false;
      out.textContent = "Đang chuẩn hóa…";
      fetch("/api/v1/preview", {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": btn.dataset.csrf},
        body: JSON.stringify({text: document.getElementById("body").value || " "})
      }).then(function (r) { return r.json(); }).then(function (data) {
        if (data.marks === undefined) {
          out.textContent = data.spoken_text !== undefined ? data.spoken_text
            : (data.errors || []).map(function (e) { return e.message; }).join("; ");
          return;
        }
        // Each run the normalizer rewrote is marked with its class and the written text, so an
        // officer sees what was expanded and can add an override for that word (Quản trị).
        out.textContent = "";
        data.marks.forEach(function (line, n) {
          if (n) { out.appendChild(document.createElement("br")); }
          line.forEach(function (run) {
            if (!run.spoken) { return; }
            var node = document.createElement(run["class"] ? "mark" : "span");
            node.textContent = run.spoken;
            if (run["class"]) {
              node.title = run["class"] + ": " + run.written;
              node.dataset.cls = run["class"];
            }
            out.appendChild(node);
            out.appendChild(document.createTextNode(" "));
          });
        });
      }).catch(function () { out.textContent = "Không xem trước được."; });
    });
  }
  // SMS cost before sending: the server counts parts exactly as the wire will (GSM-7 or
  // UCS-2, extension characters, 153/67 per part). A bulletin's SMS field also counts the
  // subscribers of the chosen areas; a reply to one resident counts parts only.
  function chosenAreas() {
    var out = [];
    document.querySelectorAll("input[name=targets]:checked").forEach(function (box) {
      if (box.value.indexOf("sms:") === 0) { out.push(box.value.slice(4)); }
    });
    return out;
  }
  function smsCounter(field) {
    var count = document.getElementById(field.dataset.smsCount);
    var withAreas = field.dataset.smsAreas === "1";
    var timer = null;
    function show(data) {
      if (data.errors) { count.textContent = data.errors.map(function (e) { return e.message; }).join("; "); return; }
      var plain = data.unaccented, coding = data.encoding === "ucs2" ? "UCS-2 (có dấu)" : "GSM-7";
      if (withAreas) {
        count.textContent = coding + ": " + data.parts + " tin/người × " + data.recipients + " người nhận = " +
          data.total + " tin. Không dấu: " + plain.parts + " tin/người = " + plain.total + " tin.";
      } else {
        count.textContent = coding + ": " + data.parts + " tin. Không dấu: " + plain.parts + " tin.";
      }
      if (data.warning) { count.textContent += " " + data.warning; }
      if (plain.parts < data.parts) {
        var use = document.createElement("button");
        use.type = "button"; use.className = "sms-plain"; use.textContent = "Dùng bản không dấu";
        use.addEventListener("click", function () { field.value = plain.text; update(); });
        count.appendChild(document.createTextNode(" "));
        count.appendChild(use);
      }
    }
    function update() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var csrf = document.querySelector("input[name=csrf_token]");
        fetch("/api/v1/sms/preview", {
          method: "POST",
          headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.value : ""},
          body: JSON.stringify({text: field.value, areas: withAreas ? chosenAreas() : []})
        }).then(function (r) { return r.json(); }).then(show)
          .catch(function () { count.textContent = "Không tính được số tin."; });
      }, 250);
    }
    field.addEventListener("input", update);
    if (withAreas) {
      document.querySelectorAll("input[name=targets]").forEach(function (box) { box.addEventListener("change", update); });
    }
    update();
  }
  document.querySelectorAll("textarea[data-sms-count]").forEach(smsCounter);
  // Filters that apply on change (no inline handlers: the Content-Security-Policy forbids them).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
// A form that changes what residents hear asks once more before it is sent.
document.querySelectorAll("form[data-confirm]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });
});
// An editor form warns before its changes are lost (leaving the page, closing the tab);
// saving or submitting it is not leaving.
document.querySelectorAll("form[data-unsaved]").forEach(function (form) {
  var dirty = false;
  form.addEventListener("input", function () { dirty = true; });
  form.addEventListener("change", function () { dirty = true; });
  form.addEventListener("submit", function () { dirty = false; });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });
});
// While the audio for approval is being made, the page reloads itself unless the
// officer is typing (a reason to return the bulletin, for instance).
(function () {
  var wait = document.getElementById("render-wait");
  if (!wait) { return; }
  setTimeout(function again() {
    var active = document.activeElement;
    var typing = active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA") && active.value;
    if (typing) { setTimeout(again, 4000); } else { window.location.reload(); }
  }, Number(wait.dataset.reload || 4) * 1000);
})();
// Filters that apply as soon as a choice is made (no inline handlers: the page's CSP).
document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
  select.addEventListener("change", function () { select.form.submit(); });
});
