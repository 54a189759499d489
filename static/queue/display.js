// The waiting-room display: redraws from the display channel's state events; when the stream
// drops it reconnects by itself (backoff up to 5 s) and asks for the whole state again, so
// nothing pushed meanwhile is missed; a revoked link stops the screen. A newly called token
// flashes and, with sound on, chimes and is spoken in the link's language.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("display-config").textContent);
  var key = new URLSearchParams(window.location.search).get("key") || "";
  var words = cfg.words;
  var board = document.getElementById("doctors");
  var status = document.querySelector("[data-testid=display-status]");
  var soundButton = document.getElementById("sound");
  var source = null;
  var wait = 500;
  var stopped = false;
  var lastHeard = Date.now();
  var seen = {}; // doctor → "token/calls" already announced
  var sound = false;

  function url(path) { return path + "?key=" + encodeURIComponent(key); }

  function field(card, name) { return card.querySelector("[data-field=" + name + "]"); }

  function card(doctor) {
    var found = board.querySelector("[data-doctor='" + doctor.doctor + "']");
    if (found) return found;
    var section = document.createElement("section");
    section.className = "display-doctor";
    section.setAttribute("data-doctor", doctor.doctor);
    section.innerHTML = '<h2 class="display-doctor-name"></h2><p class="display-room"></p>' +
      '<p class="display-label"></p><p class="display-token" data-field="serving"></p>' +
      '<p class="display-stage" data-field="status"></p><p class="display-waiting">' +
      '<span class="display-label"></span> <span data-field="waiting"></span></p>';
    section.querySelector("h2").textContent = doctor.name;
    section.querySelectorAll(".display-label")[0].textContent = words.nowServing;
    section.querySelectorAll(".display-label")[1].textContent = words.waiting;
    var empty = board.querySelector(".display-empty");
    if (empty) empty.remove();
    board.appendChild(section);
    return section;
  }

  function render(state) {
    board.setAttribute("data-position", state.as_of_position);
    state.doctors.forEach(function (doctor) {
      var c = card(doctor);
      var room = c.querySelector(".display-room");
      room.textContent = doctor.room ? words.room + " " + doctor.room : "";
      var token = field(c, "serving");
      token.textContent = doctor.serving === null ? words.nobody : String(doctor.serving);
      field(c, "status").textContent = doctor.status === "started" ? words.inConsultation : "";
      field(c, "waiting").textContent = doctor.waiting.join(" · ");
      var mark = doctor.serving === null ? "" : doctor.serving + "/" + doctor.calls;
      if (doctor.status === "called" && seen[doctor.doctor] !== undefined && seen[doctor.doctor] !== mark) {
        called(token, doctor);
      }
      seen[doctor.doctor] = mark;
    });
  }

  function called(token, doctor) {
    token.classList.remove("just-called");
    void token.offsetWidth; // restart the animation
    token.classList.add("just-called");
    if (!sound) return;
    chime();
    if (window.speechSynthesis) {
      var text = (doctor.room ? words.pleaseGo : words.pleaseGoDoctor)
        .replace("%(token)s", doctor.serving)
        .replace("%(room)s", words.room + " " + doctor.room)
        .replace("%(doctor)s", doctor.name);
      var said = new SpeechSynthesisUtterance(text);
      said.lang = cfg.language === "hi" ? "hi-IN" : "en-IN";
      window.speechSynthesis.speak(said);
    }
  }

  var audio = null;
  function chime() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    audio = audio || new Context();
    [660, 880].forEach(function (pitch, n) {
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      tone.frequency.value = pitch;
      gain.gain.setValueAtTime(0.25, audio.currentTime + n * 0.35);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + n * 0.35 + 0.3);
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + n * 0.35);
      tone.stop(audio.currentTime + n * 0.35 + 0.32);
    });
  }

  soundButton.addEventListener("click", function () {
    sound = !sound;
    soundButton.setAttribute("aria-pressed", String(sound));
    soundButton.textContent = sound ? soundButton.dataset.on : soundButton.dataset.off;
    if (sound) chime();
  });

  function stop() {
    stopped = true;
    if (source) source.close();
    document.body.innerHTML = document.getElementById("revoked-page").innerHTML;
    document.body.setAttribute("data-stopped", "true");
  }

  function resync() {
    return fetch(url(cfg.state), { cache: "no-store", credentials: "omit" }).then(function (answer) {
      if (answer.status === 403) { stop(); return null; }
      return answer.ok ? answer.json() : null;
    }).then(function (state) { if (state && !stopped) render(state); })
      .catch(function () { /* offline: the stream's reconnect tries again */ });
  }

  function connect() {
    if (stopped) return;
    source = new EventSource(url(cfg.events));
    source.addEventListener("open", function () {
      wait = 500;
      lastHeard = Date.now();
      status.textContent = "";
      board.setAttribute("data-connected", "true");
      resync();
    });
    source.addEventListener("keep-alive", function () { lastHeard = Date.now(); });
    source.addEventListener(cfg.stateEvent, function (event) {
      lastHeard = Date.now();
      render(JSON.parse(event.data));
    });
    source.addEventListener(cfg.revokedEvent, function (event) {
      if (JSON.parse(event.data).link === cfg.link) stop();
    });
    source.addEventListener("error", function () { reconnect(); });
  }

  function reconnect() {
    if (stopped) return;
    if (source) source.close();
    board.setAttribute("data-connected", "false");
    status.textContent = words.reconnecting;
    setTimeout(function () { resync(); connect(); }, wait);
    wait = Math.min(wait * 2, 5000);
  }

  // The server says something every 20 s; a stream silent for longer has died unseen.
  setInterval(function () {
    if (!stopped && source && Date.now() - lastHeard > 45000) reconnect();
  }, 5000);
  // A revocation pushed while this screen was away is found on the next look.
  setInterval(function () { if (!stopped) resync(); }, 30000);

  document.querySelectorAll(".display-doctor").forEach(function (c) {
    var token = field(c, "serving");
    seen[c.getAttribute("data-doctor")] = token.textContent.trim() === words.nobody ? "" :
      token.textContent.trim() + "/" + token.getAttribute("data-calls");
  });
  connect();
})();
