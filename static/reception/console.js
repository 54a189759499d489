// The live board is morphed in place (idiomorph) on every change: a field someone is typing
// in, or has typed in and not yet sent, keeps its value while the rows around it update.
(function () {
  "use strict";
  if (!window.Idiomorph) return;
  Idiomorph.defaults.ignoreActiveValue = true;
  Idiomorph.defaults.callbacks.beforeAttributeUpdated = function (name, element) {
    var typed = (element.tagName === "INPUT" || element.tagName === "TEXTAREA") &&
      element.value !== element.defaultValue;
    if (name === "value" && typed) return false;
    return true;
  };
})();
