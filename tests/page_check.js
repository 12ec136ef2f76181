// Injected by tests/page_check.py at the very top of <head> of the page under test (never
// shipped with a page). It records every problem the page shows a reader:
//   - uncaught script errors (window 'error' ErrorEvent) and unhandled promise rejections,
//   - console.error calls,
//   - resources other than img/audio that fail to load (script, link, video, ...: their
//     'error' events do not bubble, so they are caught in the capture phase on window),
//   - Content-Security-Policy violations,
//   - resources from another origin (the page must work offline),
// then, once the page has loaded, checks each <img> (loaded, naturalWidth > 0, decodes) and
// each <audio> (fires loadedmetadata, not error; preload="none" and lazy images are forced to
// load), waits a moment for late errors, and POSTs {images, audio, problems} as JSON to the
// checker's server. The placeholders in double underscores are filled in by page_check.py.
(function () {
  'use strict';
  var RESULT_URL = '__PAGE_CHECK_RESULT_URL__';
  var ELEMENT_TIMEOUT_MS = __PAGE_CHECK_ELEMENT_TIMEOUT_MS__;
  var LOAD_TIMEOUT_MS = __PAGE_CHECK_LOAD_TIMEOUT_MS__;
  var INJECTED_LINES = __PAGE_CHECK_INJECTED_LINES__;  // this script's lines, to report the page's own line numbers
  var SETTLE_MS = 300;

  // Kept before the page can replace them.
  var sendRequest = window.fetch.bind(window);
  var originalConsoleError = console.error;
  var pageOrigin = window.location.origin;

  var problems = [];
  var failedAudio = new WeakSet();
  function note(message) {
    message = String(message);
    if (problems.indexOf(message) < 0) problems.push(message);
  }
  function describe(value) {
    try {
      if (value instanceof Error) return value.name + ': ' + value.message;
      if (value !== null && typeof value === 'object') return JSON.stringify(value);
    } catch (ignored) { /* fall through to String() */ }
    return String(value);
  }
  function sourceOf(element) {
    var src = element.getAttribute('src') || element.getAttribute('href');
    if (!src) {
      var firstSource = element.querySelector && element.querySelector('source[src]');
      if (firstSource) src = firstSource.getAttribute('src');
    }
    return src || '(no src)';
  }
  function isExternal(url) {
    if (!url) return false;
    var resolved;
    try { resolved = new URL(url, document.baseURI); } catch (e) { return false; }
    if (resolved.protocol === 'data:' || resolved.protocol === 'blob:') return false;
    return resolved.origin !== pageOrigin;
  }

  console.error = function () {
    note('console.error: ' + Array.prototype.map.call(arguments, describe).join(' '));
    return originalConsoleError.apply(console, arguments);
  };
  window.addEventListener('error', function (event) {
    if (event instanceof ErrorEvent) {
      var where = '';
      if (event.filename) {
        var isPage = event.filename.split('#')[0] === window.location.href.split('#')[0];
        where = ' (' + event.filename.replace(pageOrigin + '/', '') + ':' + (isPage ? event.lineno - INJECTED_LINES : event.lineno) + ')';
      }
      note('script error: ' + event.message + where);
      return;
    }
    var target = event.target;
    if (!target || !target.tagName) return;
    var tag = target.tagName.toLowerCase();
    // <img> and <audio> get a precise verdict each, below; an <audio> has failed when the
    // element itself reports an error or its last <source> child does.
    if (tag === 'img') return;
    if (tag === 'audio') { failedAudio.add(target); return; }
    var parent = target.parentElement;
    if (tag === 'source' && parent && parent.tagName.toLowerCase() === 'audio') {
      var children = parent.querySelectorAll('source');
      if (children[children.length - 1] === target) failedAudio.add(parent);
      return;
    }
    note('resource failed to load: <' + tag + '> ' + sourceOf(target));
  }, true);
  window.addEventListener('unhandledrejection', function (event) {
    note('unhandled promise rejection: ' + describe(event.reason));
  });
  document.addEventListener('securitypolicyviolation', function (event) {
    note('content security policy violation: ' + event.violatedDirective + ' blocked ' + event.blockedURI);
  });

  function withTimeout(promise, milliseconds, timeoutMessage) {
    return new Promise(function (resolve) {
      var timer = setTimeout(function () { resolve(timeoutMessage); }, milliseconds);
      promise.then(function (verdict) { clearTimeout(timer); resolve(verdict); });
    });
  }

  // Resolves to null when the image is fine, else to a message naming its src.
  function checkImage(img) {
    var src = sourceOf(img);
    if (isExternal(img.currentSrc || img.src)) {
      return Promise.resolve('external resource (the page must work offline): <img> ' + src);
    }
    if (img.loading === 'lazy') img.loading = 'eager';
    var loaded = new Promise(function (resolve) {
      if (img.complete) { resolve(); return; }
      img.addEventListener('load', function () { resolve(); }, { once: true });
      img.addEventListener('error', function () { resolve(); }, { once: true });
    });
    var verdict = loaded.then(function () {
      if (!img.getAttribute('src') && !img.currentSrc) return 'image has no src: <img> ' + img.outerHTML.slice(0, 80);
      if (!(img.naturalWidth > 0)) return 'image did not load: ' + src;
      return img.decode().then(function () { return null; },
                               function (error) { return 'image did not decode: ' + src + ' (' + describe(error) + ')'; });
    });
    return withTimeout(verdict, ELEMENT_TIMEOUT_MS,
                       'image still loading after ' + ELEMENT_TIMEOUT_MS / 1000 + ' s: ' + src);
  }

  var MEDIA_ERROR_NAMES = { 1: 'MEDIA_ERR_ABORTED', 2: 'MEDIA_ERR_NETWORK', 3: 'MEDIA_ERR_DECODE', 4: 'MEDIA_ERR_SRC_NOT_SUPPORTED' };
  function mediaErrorText(audio) {
    var error = audio.error;
    if (!error) return 'no usable source';
    return (MEDIA_ERROR_NAMES[error.code] || 'code ' + error.code) + (error.message ? ': ' + error.message : '');
  }

  // Resolves to null when the audio element reaches HAVE_METADATA, else to a message naming its src.
  function checkAudio(audio) {
    var sources = [audio.getAttribute('src')];
    Array.prototype.forEach.call(audio.querySelectorAll('source'), function (s) { sources.push(s.getAttribute('src')); });
    var src = sources.filter(function (s) { return s; }).join(', ');
    for (var i = 0; i < sources.length; ++i) {
      if (isExternal(sources[i])) return Promise.resolve('external resource (the page must work offline): <audio> ' + sources[i]);
    }
    if (!src) return Promise.resolve('audio has no src: ' + audio.outerHTML.slice(0, 80));
    var HAVE_METADATA = 1, NETWORK_EMPTY = 0;
    var failure = function () { return 'audio did not load: ' + src + ' (' + mediaErrorText(audio) + ')'; };
    var verdict = new Promise(function (resolve) {
      if (audio.readyState >= HAVE_METADATA) { resolve(null); return; }
      if (audio.error || failedAudio.has(audio)) { resolve(failure()); return; }
      audio.addEventListener('loadedmetadata', function () { resolve(null); }, { once: true });
      // Runs after the window listener above has classified the error (it captures first).
      audio.addEventListener('error', function () {
        if (audio.readyState < HAVE_METADATA && (audio.error || failedAudio.has(audio))) resolve(failure());
      }, true);
      if (audio.preload === 'none' || audio.networkState === NETWORK_EMPTY) {
        audio.preload = 'metadata';
        audio.load();
      }
    });
    return withTimeout(verdict, ELEMENT_TIMEOUT_MS,
                       'audio metadata still not loaded after ' + ELEMENT_TIMEOUT_MS / 1000 + ' s: ' + src);
  }

  var reported = false;
  function checkElementsAndReport(loadTimedOut) {
    if (reported) return;
    reported = true;
    if (loadTimedOut) note('the page did not finish loading (no load event) within ' + LOAD_TIMEOUT_MS / 1000 + ' s');
    var images = Array.prototype.slice.call(document.querySelectorAll('img'));
    var audios = Array.prototype.slice.call(document.querySelectorAll('audio'));
    var checks = images.map(checkImage).concat(audios.map(checkAudio));
    Promise.all(checks).then(function (verdicts) {
      verdicts.forEach(function (verdict) { if (verdict) note(verdict); });
      setTimeout(function () {
        var result = { images: images.length, audio: audios.length, problems: problems };
        sendRequest(RESULT_URL, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(result) });
      }, SETTLE_MS);
    });
  }
  window.addEventListener('load', function () { checkElementsAndReport(false); });
  setTimeout(function () { checkElementsAndReport(true); }, LOAD_TIMEOUT_MS);
})();
