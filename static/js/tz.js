// Tell the server the browser's time zone (cookie `tz`); pages use it until the profile names one.
// IANA names (letters, digits, "/", "_", "-", "+") are valid cookie values as they are.
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || !/^[A-Za-z0-9_\/+-]+$/.test(zone)) return;
    var current = (document.cookie.match(/(?:^|; )tz=([^;]*)/) || [])[1];
    if (current === zone) return;
    document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    // First visit: show this page's times in the browser's zone too (a GET of the same URL, once).
    if (!current && (document.cookie.match(/(?:^|; )tz=([^;]*)/) || [])[1] === zone && !document.querySelector(".errorlist li, .field-error li")) {
      location.replace(location.href);
    }
  } catch (e) { /* an old browser: the server shows UTC */ }
})();
