// "What will be said" preview and the SMS part counter; the console works without them.
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
        out.textContent = data.spoken_text !== undefined ? data.spoken_text
          : (data.errors || []).map(function (e) { return e.message; }).join("; ");
      }).catch(function () { out.textContent = "Không xem trước được."; });
    });
  }
  var sms = document.getElementById("sms");
  var count = document.getElementById("sms-count");
  var GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXT = "^{}\\[~]|€";
  function update() {
    var text = sms.value.normalize("NFC"), gsm = true, units = 0;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (EXT.indexOf(c) >= 0) { units += 2; } else if (GSM.indexOf(c) >= 0) { units += 1; } else { gsm = false; }
    }
    var n = gsm ? units : text.length, single = gsm ? 160 : 70, part = gsm ? 153 : 67;
    var parts = n === 0 ? 0 : (n <= single ? 1 : Math.ceil(n / part));
    count.textContent = n + " ký tự, " + (gsm ? "GSM-7" : "UCS-2 (có dấu)") + ", " + parts + " tin";
  }
  if (sms && count) { sms.addEventListener("input", update); update(); }
})();
