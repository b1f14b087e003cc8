// Record the bulletin's audio in the browser (MediaRecorder: WebM or Ogg with Opus) and
// upload it like a chosen file; the server decodes, checks and normalizes it.
(function () {
  var box = document.getElementById("recorder");
  if (!box || !window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
  box.hidden = false;
  var start = document.getElementById("rec-start");
  var stop = document.getElementById("rec-stop");
  var state = document.getElementById("rec-state");
  var recorder = null;
  var pieces = [];
  var began = 0;
  var ticker = null;
  start.addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({audio: true}).then(function (stream) {
      var type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"].filter(function (t) {
        return MediaRecorder.isTypeSupported(t);
      })[0] || "";
      recorder = type ? new MediaRecorder(stream, {mimeType: type}) : new MediaRecorder(stream);
      pieces = [];
      recorder.addEventListener("dataavailable", function (e) { if (e.data.size) { pieces.push(e.data); } });
      recorder.addEventListener("stop", function () {
        stream.getTracks().forEach(function (t) { t.stop(); });
        clearInterval(ticker);
        var mime = recorder.mimeType || "audio/webm";
        var blob = new Blob(pieces, {type: mime});
        var form = new FormData();
        form.append("csrf_token", box.dataset.csrf);
        form.append("audio", blob, mime.indexOf("ogg") >= 0 ? "ghi-am.ogg" : "ghi-am.webm");
        state.textContent = "Đang tải bản ghi lên…";
        fetch(box.dataset.action, {method: "POST", body: form, credentials: "same-origin"})
          .then(function (r) { window.location.href = r.url; })
          .catch(function () { state.textContent = "Không tải được bản ghi lên. Hãy thử lại."; });
      });
      recorder.start(1000);
      began = Date.now();
      start.disabled = true;
      stop.disabled = false;
      ticker = setInterval(function () {
        state.textContent = "Đang ghi âm: " + Math.round((Date.now() - began) / 1000) + " giây";
      }, 500);
      state.textContent = "Đang ghi âm…";
    }).catch(function () {
      state.textContent = "Trình duyệt không cho dùng micrô: hãy cho phép micrô rồi thử lại, hoặc chọn tệp.";
    });
  });
  stop.addEventListener("click", function () {
    if (recorder && recorder.state !== "inactive") { recorder.stop(); }
    stop.disabled = true;
  });
})();
