// Progressive enhancement for the Image Factory wizard. Every page works without this file:
// forms submit normally, the extension filter has a button, download links build on demand.
// With it: copy buttons, instant extension search, release-notes link following the version,
// and "Build now" with a progress bar fed by the factory's build progress events (SSE).
'use strict'
;(function () {
  var announce = document.getElementById('announce')
  function say(text) {
    if (!announce) return
    announce.textContent = ''
    setTimeout(function () { announce.textContent = text }, 50)
  }

  // ---- copy to clipboard ----
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text)
    // plain-HTTP sites (no Clipboard API): a temporary selection
    return new Promise(function (resolve, reject) {
      var area = document.createElement('textarea')
      area.value = text
      area.setAttribute('readonly', '')
      area.className = 'visually-hidden'
      document.body.appendChild(area)
      area.select()
      var ok = false
      try { ok = document.execCommand('copy') } catch (e) { ok = false }
      document.body.removeChild(area)
      if (ok) resolve()
      else reject(new Error('copy failed'))
    })
  }
  document.querySelectorAll('button.copy[data-copy]').forEach(function (button) {
    var target = document.getElementById(button.getAttribute('data-copy'))
    if (!target) return
    button.hidden = false
    var label = button.firstChild && button.firstChild.nodeValue
    button.addEventListener('click', function () {
      copyText(target.textContent.trim()).then(
        function () {
          if (button.firstChild) button.firstChild.nodeValue = 'Copied'
          say('Copied to the clipboard')
          setTimeout(function () { if (button.firstChild) button.firstChild.nodeValue = label }, 2000)
        },
        function () { say('Copying failed: select the text and copy it yourself') }
      )
    })
  })

  // ---- extension search ----
  var search = document.getElementById('ext-search')
  var list = document.getElementById('ext-list')
  if (search && list) {
    var items = Array.prototype.slice.call(list.querySelectorAll('li.ext'))
    var count = document.getElementById('ext-count')
    var total = count ? (count.textContent.match(/of (\d+)/) || [])[1] : null
    document.querySelectorAll('[data-nojs]').forEach(function (el) { el.hidden = true })
    var filter = function () {
      var q = search.value.trim().toLowerCase()
      var shown = 0
      items.forEach(function (li) {
        var box = li.querySelector('input')
        var show = q === '' || li.getAttribute('data-search').indexOf(q) >= 0 || (box && box.checked)
        li.hidden = !show
        if (show) shown++
      })
      if (count) count.textContent = 'Showing ' + shown + ' of ' + (total || items.length) + ' extensions.'
    }
    search.addEventListener('input', filter)
    // Enter filters (it would otherwise submit the form's first button)
    search.addEventListener('keydown', function (e) { if (e.key === 'Enter') e.preventDefault() })
    filter()
  }

  // ---- release notes follow the chosen version ----
  var version = document.getElementById('version')
  var notes = document.getElementById('release-notes')
  if (version && notes) {
    version.addEventListener('change', function () {
      notes.href = notes.getAttribute('data-release-notes') + version.value
      var span = notes.querySelector('span')
      if (span) span.textContent = version.value
    })
  }

  // ---- build now, with progress ----
  function formatBytes(n) {
    var units = ['bytes', 'KiB', 'MiB', 'GiB']
    var i = 0
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
    return i === 0 ? n + ' bytes' : (n < 10 ? n.toFixed(1) : Math.round(n)) + ' ' + units[i]
  }
  var PHASES = { preparing: 'Preparing the inputs…', writing: 'Building: ', publishing: 'Checking and storing: ' }
  document.querySelectorAll('.build[data-progress]').forEach(function (box) {
    if (typeof EventSource === 'undefined') return
    var button = box.querySelector('button')
    var bar = box.querySelector('progress')
    var status = box.querySelector('.build-status')
    box.hidden = false
    button.addEventListener('click', function () {
      button.disabled = true
      bar.hidden = false
      bar.removeAttribute('value') // indeterminate until done: the final size is not known
      status.className = 'build-status'
      status.textContent = 'Starting…'
      var finished = false
      var source = new EventSource(box.getAttribute('data-progress'))
      var data = function (e) { try { return JSON.parse(e.data) } catch (x) { return {} } }
      source.addEventListener('queued', function (e) {
        status.textContent = data(e).reason === 'lock' ? 'Waiting for another builder…' : 'Waiting for a free build slot…'
      })
      source.addEventListener('building', function (e) {
        var d = data(e)
        status.textContent = d.phase === 'preparing' ? PHASES.preparing : (PHASES[d.phase] || 'Building: ') + formatBytes(d.bytes || 0) + ' written'
      })
      source.addEventListener('done', function (e) {
        finished = true
        source.close()
        var d = data(e)
        bar.value = 1
        status.className = 'build-status ok'
        status.textContent = 'Ready: ' + formatBytes(d.size || 0) + ', sha256 ' + d.sha256 + '. The download link above is served from the cache.'
        button.hidden = true
      })
      source.addEventListener('failed', function (e) {
        finished = true
        source.close()
        bar.hidden = true
        status.className = 'build-status bad'
        status.textContent = 'Build failed: ' + (data(e).reason || 'unknown reason')
        button.disabled = false
      })
      source.onerror = function () {
        if (finished) return
        source.close()
        bar.hidden = true
        status.className = 'build-status bad'
        status.textContent = 'Lost the connection to the factory. The build goes on; try again to follow it.'
        button.disabled = false
      }
    })
  })
})()
