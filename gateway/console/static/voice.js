// "Nghe thử": one sentence in the chosen voice and speed, synthesized on the live lane
// before the bulletin is submitted (the selected text, else the first sentence).
(function () {
  var button = document.getElementById("listen-btn");
  if (!button) { return; }
  var state = document.getElementById("listen-state");
  var player = document.getElementById("listen-audio");
  var body = document.getElementById("body");
  var url = null;
  button.addEventListener("click", function () {
    var text = body.value.substring(body.selectionStart, body.selectionEnd).trim() || body.value;
    if (!text.trim()) { state.textContent = "Hãy viết nội dung trước khi nghe thử."; return; }
    button.disabled = true;
    state.textContent = "Đang đọc thử…";
    fetch("/api/v1/preview/audio", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": button.dataset.csrf},
      body: JSON.stringify({
        text: text,
        voice: document.getElementById("voice").value,
        speed: Number(document.getElementById("speed").value)
      })
    }).then(function (r) {
      if (r.ok) { return r.blob(); }
      return r.json().then(function (e) { throw new Error(e.errors ? e.errors[0].message.replace(/^[a-z_]+: /, "") : "lỗi"); });
    }).then(function (blob) {
      if (url) { URL.revokeObjectURL(url); }
      url = URL.createObjectURL(blob);
      player.src = url;
      player.hidden = false;
      state.textContent = "Câu đọc thử đã sẵn sàng.";
      player.play().catch(function () { return null; });
    }).catch(function (err) {
      state.textContent = "Không đọc thử được: " + err.message;
    }).then(function () { button.disabled = false; });
  });
})();
