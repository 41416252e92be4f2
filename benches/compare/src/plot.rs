//! The latency-percentile plot, as SVG (text is left to the SVG viewer: no font files).

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::report::Report;
use crate::scenario::{Kind, Outcome, Scenario};

/// Percentile -> "nines" position: 90 -> 1, 99 -> 2, 99.9 -> 3, ...
fn nines(p: f64) -> f64 {
    -(1.0 - p / 100.0).max(1e-12).log10()
}

/// Draws per-call latency against percentile for kind (a) on one thread, one line per row.
pub fn latency_svg(report: &Report, path: &Path) -> Result<()> {
    let mut lines: Vec<(&str, Vec<(f64, f64)>)> = Vec::new();
    for r in &report.runs {
        // The ring-size rows are left to the report's table: a dozen more lines hide the rest.
        if r.peer.headline_only || !matches!(r.scenario, Scenario::Latency { kind: Kind::A, threads: 1, .. }) {
            continue;
        }
        if let Ok(Outcome::Latency { per_call, .. }) = &r.outcome {
            // Percentiles finer than one sample in `samples` say nothing the maximum does
            // not; the maximum goes at the right edge (1 in 10^6 for a million samples).
            let resolution = (per_call.samples.max(10) as f64).log10();
            let mut pts: Vec<(f64, f64)> =
                per_call.curve.iter().map(|&(p, v)| (nines(p), v)).filter(|&(x, _)| x < resolution - 1e-9).collect();
            pts.push((resolution.ceil(), per_call.max));
            lines.push((r.peer.name, pts));
        }
    }
    let all = lines.iter().flat_map(|(_, p)| p.iter());
    let (mut ymin, mut ymax, mut xmax) = (f64::MAX, f64::MIN, 1.0f64);
    for &(x, y) in all {
        ymin = ymin.min(y);
        ymax = ymax.max(y);
        xmax = xmax.max(x);
    }
    if lines.is_empty() {
        (ymin, ymax) = (1.0, 10.0);
    }
    let (ymin, ymax, xmax) = (ymin.max(0.1) * 0.8, ymax * 1.3, xmax.ceil());

    let root = SVGBackend::new(path, (1100, 700)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| anyhow!("drawing {}: {e:?}", path.display());
    root.fill(&WHITE).map_err(err)?;
    let title = format!("Per-call latency, kind (a) u32+u64+f64, 1 pinned thread ({})", report.machine.cpu);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..xmax, (ymin..ymax).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("percentile (last point: max)")
        .y_desc("latency per call (log scale)")
        .x_labels(xmax as usize + 1)
        .x_label_formatter(&|x| {
            let p = 100.0 * (1.0 - 10f64.powf(-x));
            if *x == 0.0 {
                "min".to_owned()
            } else if *x >= xmax - 1e-9 {
                "max".to_owned()
            } else {
                format!("p{}", trim(p))
            }
        })
        .y_label_formatter(&|y| axis_ns(*y))
        .draw()
        .map_err(err)?;
    for (i, (name, pts)) in lines.iter().enumerate() {
        let (color, width) = style(name, i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(width)))
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Distinct, readable colours; tapelog drawn thick and black, the references in greys.
fn style(name: &str, i: usize) -> (RGBColor, u32) {
    const COLORS: [RGBColor; 8] = [
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0xd6, 0x27, 0x28),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0xff, 0x7f, 0x0e),
        RGBColor(0x94, 0x67, 0xbd),
        RGBColor(0x8c, 0x56, 0x4b),
        RGBColor(0xe3, 0x77, 0xc2),
        RGBColor(0x17, 0xbe, 0xcf),
    ];
    match name {
        "tapelog" => (BLACK, 4),
        "timer" => (RGBColor(0xb0, 0xb0, 0xb0), 2),
        "bare-rtrb" => (RGBColor(0x70, 0x70, 0x70), 2),
        _ => (COLORS[i % COLORS.len()], 2),
    }
}

/// Axis labels: "100 ns", "2.5 µs", "1 ms".
fn axis_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else {
        (ns / 1e6, "ms")
    };
    format!("{} {unit}", trim(v))
}

/// 99.900000 -> "99.9", 90.0 -> "90".
fn trim(p: f64) -> String {
    let s = format!("{p:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
