//! A small SVG line-chart writer for the HTML reports: named series of
//! (x, y) points with y a fraction in [0, 1] shown as a percentage, axis
//! ticks and labels, a legend under the plot and a fixed palette. The output
//! is a self-contained `<svg>` element: no scripts, fonts or external files,
//! so a report stays one file that opens anywhere.

use std::fmt::Write;

use super::markup::escape;

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// (x, y) points; drawn in order of x, non-finite ones are left out.
    pub points: Vec<(f64, f64)>,
}

/// A line chart with y in [0, 1].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineChart {
    /// Heading drawn above the plot.
    pub title: String,
    /// Caption of the x axis.
    pub x_label: String,
    /// Caption of the y axis.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// `Some(floor)`: both axes logarithmic from `floor` to 1, as ROC
    /// curves are drawn to show the low false-positive rates.
    pub log_floor: Option<f64>,
}

/// Where the plot is drawn inside the SVG, in SVG units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// Width of every chart.
const WIDTH: f64 = 640.0;
/// The plot inside it: room on the left for y ticks, above for the title.
const PLOT: Area = Area { left: 64.0, top: 40.0, width: 548.0, height: 220.0 };
/// Height of one legend row.
const LEGEND_ROW: f64 = 18.0;
/// Closest two x tick labels may be, in SVG units, before one is dropped.
const MIN_TICK_GAP: f64 = 30.0;

/// Tableau 10: distinguishable, and readable on white.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#bab0ac",
];
/// Line styles for the second and later rounds through the palette.
const DASHES: [&str; 3] = ["", "6 3", "2 3"];

impl LineChart {
    /// An empty chart with its captions.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        LineChart {
            title: title.to_owned(),
            x_label: x_label.to_owned(),
            y_label: y_label.to_owned(),
            series: Vec::new(),
            log_floor: None,
        }
    }

    /// The same chart with both axes logarithmic from `floor` (> 0) to 1;
    /// values below the floor are drawn at it.
    pub fn log_log(mut self, floor: f64) -> Self {
        self.log_floor = Some(floor.clamp(1e-12, 0.5));
        self
    }

    /// A value's position along a log axis from the floor (0) to 1 (1).
    fn log_share(floor: f64, v: f64) -> f64 {
        1.0 - v.clamp(floor, 1.0).log10() / floor.log10()
    }

    /// Adds a line.
    pub fn with_series(mut self, name: &str, points: Vec<(f64, f64)>) -> Self {
        self.series.push(Series { name: name.to_owned(), points });
        self
    }

    /// Where points are drawn.
    pub fn plot_area() -> Area {
        PLOT
    }

    /// The x range covered by the finite points, widened when it is a
    /// single value so the mapping never divides by zero.
    fn x_range(&self) -> (f64, f64) {
        let xs = self.finite_points().map(|(x, _)| x);
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)));
        if !lo.is_finite() {
            (0.0, 1.0)
        } else if hi - lo < 1e-12 {
            (lo - 0.5, hi + 0.5)
        } else {
            (lo, hi)
        }
    }

    fn finite_points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    }

    /// SVG coordinates of a data point; y is clamped to [0, 1].
    pub fn map(&self, x: f64, y: f64) -> (f64, f64) {
        if let Some(floor) = self.log_floor {
            let px = PLOT.left + Self::log_share(floor, x) * PLOT.width;
            let py = PLOT.top + (1.0 - Self::log_share(floor, y)) * PLOT.height;
            return (px, py);
        }
        let (lo, hi) = self.x_range();
        let px = PLOT.left + (x - lo) / (hi - lo) * PLOT.width;
        let py = PLOT.top + (1.0 - y.clamp(0.0, 1.0)) * PLOT.height;
        (px, py)
    }

    /// The chart as one `<svg>` element.
    pub fn render(&self) -> String {
        let legend = Legend::new(&self.series);
        let legend_top = PLOT.top + PLOT.height + 52.0;
        let height = legend_top + legend.rows as f64 * LEGEND_ROW + 8.0;
        let mut s = String::new();
        let title = escape(&self.title);
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{title}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, "<title>{title}</title>");
        let _ =
            writeln!(s, r#"<text x="{}" y="20" font-size="14" font-weight="bold">{title}</text>"#, PLOT.left);
        self.axes(&mut s);
        for (i, series) in self.series.iter().enumerate() {
            self.line(&mut s, i, series);
        }
        legend.render(&mut s, &self.series, legend_top);
        s.push_str("</svg>\n");
        s
    }

    /// Frame, y grid with percentages, x ticks and both axis captions.
    fn axes(&self, s: &mut String) {
        let Area { left, top, width, height } = PLOT;
        let (right, bottom) = (left + width, top + height);
        if let Some(floor) = self.log_floor {
            self.log_axes(s, floor);
            return;
        }
        let _ = writeln!(s, r##"<g class="axes" stroke="#ccc">"##);
        for k in 0..=5 {
            let y = top + height * (1.0 - f64::from(k) / 5.0);
            let _ = writeln!(s, r#"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}"/>"#);
        }
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" stroke="#888"/>"##
        );
        let _ = writeln!(s, "</g>");
        let _ = writeln!(s, r##"<g class="ticks" fill="#333">"##);
        for k in 0..=5 {
            let y = top + height * (1.0 - f64::from(k) / 5.0);
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}%</text>"#,
                left - 6.0,
                y + 4.0,
                k * 20
            );
        }
        let mut last = f64::NEG_INFINITY;
        for x in self.x_ticks() {
            let (px, _) = self.map(x, 0.0);
            if px - last < MIN_TICK_GAP {
                continue;
            }
            last = px;
            let _ = writeln!(
                s,
                r##"<line x1="{px:.1}" y1="{bottom}" x2="{px:.1}" y2="{:.1}" stroke="#888"/>"##,
                bottom + 4.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                bottom + 18.0,
                number(x)
            );
        }
        let _ = writeln!(s, "</g>");
        self.captions(s);
    }

    /// The captions under the x axis and beside the y axis.
    fn captions(&self, s: &mut String) {
        let Area { left, top, width, height } = PLOT;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            left + width / 2.0,
            top + height + 38.0,
            escape(&self.x_label)
        );
        let (cx, cy) = (16.0, top + height / 2.0);
        let _ = writeln!(
            s,
            r#"<text x="{cx}" y="{cy:.1}" text-anchor="middle" transform="rotate(-90 {cx} {cy:.1})">{}</text>"#,
            escape(&self.y_label)
        );
    }

    /// Log-log frame: a grid line and a percentage label at every power of
    /// ten on both axes, and the captions.
    fn log_axes(&self, s: &mut String, floor: f64) {
        let Area { left, top, width, height } = PLOT;
        let (right, bottom) = (left + width, top + height);
        let decades: Vec<f64> = (0..=(-floor.log10()).floor() as i32).map(|k| 10f64.powi(-k)).collect();
        let _ = writeln!(s, r##"<g class="axes" stroke="#ccc">"##);
        for &d in &decades {
            let (px, py) = self.map(d, d);
            let _ = writeln!(s, r#"<line x1="{left}" y1="{py:.1}" x2="{right}" y2="{py:.1}"/>"#);
            let _ = writeln!(s, r#"<line x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{bottom}"/>"#);
        }
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" stroke="#888"/>"##
        );
        let _ = writeln!(s, "</g>");
        let _ = writeln!(s, r##"<g class="ticks" fill="#333">"##);
        for &d in &decades {
            let (px, py) = self.map(d, d);
            let label = format!("{}%", number(d * 100.0));
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"#,
                left - 6.0,
                py + 4.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{px:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
                bottom + 18.0
            );
        }
        let _ = writeln!(s, "</g>");
        self.captions(s);
    }

    /// The x values present when there are few (severities, ε lists),
    /// evenly spaced round numbers otherwise.
    fn x_ticks(&self) -> Vec<f64> {
        let mut xs: Vec<f64> = self.finite_points().map(|(x, _)| x).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
        if xs.len() <= 8 {
            return xs;
        }
        let (lo, hi) = self.x_range();
        let step = nice_step((hi - lo) / 5.0);
        let mut ticks = Vec::new();
        let mut t = (lo / step).ceil() * step;
        while t <= hi + step * 1e-9 {
            ticks.push(t);
            t += step;
        }
        ticks
    }

    /// One series: a polyline through its points and a marker per point
    /// whose tooltip gives the value.
    fn line(&self, s: &mut String, index: usize, series: &Series) {
        let (color, dash) = style(index);
        let mut points: Vec<(f64, f64)> =
            series.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let name = escape(&series.name);
        let _ = writeln!(s, r#"<g class="series" data-name="{name}">"#);
        let coords: Vec<String> = points
            .iter()
            .map(|&(x, y)| {
                let (px, py) = self.map(x, y);
                format!("{px:.1},{py:.1}")
            })
            .collect();
        let dash_attr =
            if dash.is_empty() { String::new() } else { format!(r#" stroke-dasharray="{dash}""#) };
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash_attr}/>"#,
            coords.join(" ")
        );
        for &(x, y) in &points {
            let (px, py) = self.map(x, y);
            let _ = writeln!(
                s,
                r#"<circle cx="{px:.1}" cy="{py:.1}" r="3" fill="{color}"><title>{name}: {} → {:.1}%</title></circle>"#,
                number(x),
                y * 100.0
            );
        }
        let _ = writeln!(s, "</g>");
    }
}

/// Legend entries in as many columns as the longest name allows.
struct Legend {
    columns: usize,
    column_width: f64,
    rows: usize,
}

impl Legend {
    fn new(series: &[Series]) -> Self {
        let longest = series.iter().map(|s| s.name.chars().count()).max().unwrap_or(0);
        let column_width = (longest as f64 * 7.0 + 36.0).clamp(120.0, PLOT.width);
        let columns = ((PLOT.width / column_width).floor() as usize).max(1);
        Legend { columns, column_width, rows: series.len().div_ceil(columns) }
    }

    fn render(&self, s: &mut String, series: &[Series], top: f64) {
        let _ = writeln!(s, r#"<g class="legend">"#);
        for (i, entry) in series.iter().enumerate() {
            let (color, dash) = style(i);
            let x = PLOT.left + (i % self.columns) as f64 * self.column_width;
            let y = top + (i / self.columns) as f64 * LEGEND_ROW;
            let dash_attr =
                if dash.is_empty() { String::new() } else { format!(r#" stroke-dasharray="{dash}""#) };
            let _ = writeln!(
                s,
                r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="3"{dash_attr}/>"#,
                x + 20.0
            );
            let _ =
                writeln!(s, r#"<text x="{:.1}" y="{:.1}">{}</text>"#, x + 26.0, y + 4.0, escape(&entry.name));
        }
        let _ = writeln!(s, "</g>");
    }
}

/// Colour and dash pattern of the `index`-th series.
fn style(index: usize) -> (&'static str, &'static str) {
    (PALETTE[index % PALETTE.len()], DASHES[(index / PALETTE.len()) % DASHES.len()])
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let unit = raw / power;
    let nice = if unit <= 1.0 {
        1.0
    } else if unit <= 2.0 {
        2.0
    } else if unit <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// A tick label: at most four decimals, trailing zeros dropped.
fn number(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_owned() } else { s.to_owned() }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn log_log_axes_put_each_decade_at_an_equal_step() {
        let chart = LineChart::new("ROC", "FPR", "TPR").log_log(1e-4).with_series("a", vec![(1e-3, 0.1)]);
        let Area { left, top, width, height } = LineChart::plot_area();
        let (x, y) = chart.map(1e-3, 0.1);
        assert!((x - (left + width * 0.25)).abs() < 1e-9, "{x}");
        assert!((y - (top + height * 0.25)).abs() < 1e-9, "{y}");
        // Zero (no true positives) is drawn at the floor, not lost.
        assert_eq!(chart.map(0.0, 0.0), (left, top + height));
        let svg = chart.render();
        assert!(svg.contains(">0.01%<") && svg.contains(">100%<"), "{svg}");
        balanced(&svg);
    }

    /// Checks that every element opened is closed in order; returns the
    /// element names seen. Escaped text cannot open tags, so a raw `<` in
    /// text shows up as an unbalanced element.
    pub(crate) fn balanced(markup: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut rest = markup;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("every tag ends") + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if tag.starts_with('!') || tag.starts_with('?') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name.trim()), "closing </{name}>");
                continue;
            }
            let name = tag.split_whitespace().next().expect("tag name").trim_end_matches('/').to_owned();
            const VOID: [&str; 5] = ["meta", "img", "br", "hr", "link"];
            if !tag.ends_with('/') && !VOID.contains(&name.to_ascii_lowercase().as_str()) {
                stack.push(name.clone());
            }
            seen.push(name);
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        seen
    }

    /// Every `attr="value"` of the `element` tags, parsed as numbers.
    fn numbers(markup: &str, element: &str, attr: &str) -> Vec<f64> {
        markup
            .split(&format!("<{element} "))
            .skip(1)
            .filter_map(|tail| {
                let head = &tail[..tail.find('>')?];
                let at = head.find(&format!("{attr}=\""))? + attr.len() + 2;
                head[at..at + head[at..].find('"')?].parse().ok()
            })
            .collect()
    }

    fn chart() -> LineChart {
        LineChart::new("Accuracy <vs> severity", "severity", "accuracy")
            .with_series("gaussian_noise", vec![(0.0, 0.9), (1.0, 0.8), (3.0, 0.5), (5.0, 0.1)])
            .with_series("a<b>&c", vec![(5.0, 0.0), (0.0, 1.0), (2.0, f64::NAN)])
    }

    #[test]
    fn output_is_balanced_and_names_every_series() {
        let svg = chart().render();
        let tags = balanced(&svg);
        assert_eq!(tags.first().map(String::as_str), Some("svg"));
        assert_eq!(tags.iter().filter(|t| *t == "polyline").count(), 2);
        assert!(svg.contains(r#"data-name="gaussian_noise""#), "{svg}");
        assert!(svg.contains(">gaussian_noise</text>"), "legend entry: {svg}");
        assert_eq!(svg.matches("%</text>").count(), 6, "y ticks 0..100%: {svg}");
    }

    #[test]
    fn text_from_data_is_escaped() {
        let svg = chart().render();
        assert!(svg.contains("a&lt;b&gt;&amp;c") && !svg.contains("a<b>"), "{svg}");
        assert!(svg.contains("Accuracy &lt;vs&gt; severity"), "{svg}");
        balanced(&svg);
    }

    #[test]
    fn points_land_inside_the_plot_with_the_extremes_on_its_edges() {
        let c = chart();
        let svg = c.render();
        let (xs, ys) = (numbers(&svg, "circle", "cx"), numbers(&svg, "circle", "cy"));
        // Six finite points; the NaN one is left out.
        assert_eq!((xs.len(), ys.len()), (6, 6), "{svg}");
        let a = LineChart::plot_area();
        for (&x, &y) in xs.iter().zip(&ys) {
            assert!(x >= a.left - 1e-6 && x <= a.left + a.width + 1e-6, "x {x}");
            assert!(y >= a.top - 1e-6 && y <= a.top + a.height + 1e-6, "y {y}");
        }
        assert_eq!(c.map(0.0, 1.0), (a.left, a.top));
        assert_eq!(c.map(5.0, 0.0), (a.left + a.width, a.top + a.height));
        let (mx, my) = c.map(2.5, 0.5);
        assert!((mx - (a.left + a.width / 2.0)).abs() < 1e-9 && (my - (a.top + a.height / 2.0)).abs() < 1e-9);
        assert_eq!(c.map(1.0, 7.0).1, a.top, "y is clamped to [0, 1]");
    }

    #[test]
    fn ticks_are_the_x_values_when_few_and_round_numbers_otherwise() {
        let few = LineChart::new("t", "ε", "acc").with_series("s", vec![(0.0, 1.0), (0.05, 0.5), (0.2, 0.1)]);
        assert_eq!(few.x_ticks(), vec![0.0, 0.05, 0.2]);
        let many =
            LineChart::new("t", "x", "y").with_series("s", (0..20).map(|i| (f64::from(i), 0.5)).collect());
        assert_eq!(many.x_ticks(), vec![0.0, 5.0, 10.0, 15.0]);
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(3.0), "3");
        assert_eq!(nice_step(0.37), 0.5);
    }

    #[test]
    fn an_empty_chart_is_still_valid_and_many_series_get_distinct_styles() {
        balanced(&LineChart::new("empty", "x", "y").render());
        let styles: std::collections::BTreeSet<_> = (0..30).map(style).collect();
        assert_eq!(styles.len(), 30);
    }
}
