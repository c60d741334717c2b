// The console's only script: draws each <canvas data-kpi="..."> with Chart.js (served from
// /console/assets/chart.umd.min.js, loaded before this file). No inline scripts anywhere.
(function () {
  'use strict';
  var palette = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bf8700', '#57606a'];
  function draw() {
    if (typeof window.Chart !== 'function') return;
    var canvases = document.querySelectorAll('canvas[data-kpi]');
    for (var i = 0; i < canvases.length; i++) {
      var spec = JSON.parse(canvases[i].getAttribute('data-kpi'));
      new window.Chart(canvases[i], {
        type: 'line',
        data: {
          labels: spec.labels,
          datasets: spec.datasets.map(function (d, n) {
            return { label: d.label, data: d.values, borderColor: palette[n % palette.length], backgroundColor: palette[n % palette.length], spanGaps: true, tension: 0.2 };
          }),
        },
        options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, title: { display: true, text: spec.unit } } } },
      });
      canvases[i].setAttribute('data-drawn', 'true');
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', draw);
  else draw();
})();
