// The live board is morphed in place (idiomorph) on every change: a field someone has typed
// in and not yet sent keeps its text (and, being the same element, its focus) while the rows
// around it update. Only typed fields are spared: a just-clicked button must still morph.
(function () {
  "use strict";
  if (!window.Idiomorph) return;
  Idiomorph.defaults.callbacks.beforeAttributeUpdated = function (name, element) {
    var typed = (element.tagName === "INPUT" || element.tagName === "TEXTAREA") &&
      element.value !== element.defaultValue;
    return !(name === "value" && typed);
  };
})();
