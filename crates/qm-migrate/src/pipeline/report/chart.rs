//! Inline SVG line charts, shared by the history site's score timelines and the HTML report (one
//! chart code, one template: `templates/chart.html`). A chart is a plot area with a y range, labels
//! at both ends of each axis, and series drawn as SVG paths with a marker per point; a point can be
//! filled or hollow (migrated or kept only in the history). No script: the numbers are in `<title>`
//! tooltips and the legend.

/// One marker.
pub struct Point {
    /// x, in SVG units.
    pub x: String,
    /// y, in SVG units.
    pub y: String,
    /// Filled (else hollow).
    pub filled: bool,
    /// Tooltip.
    pub label: String,
}

/// One line.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Stroke colour.
    pub color: String,
    /// The SVG path (`M x,y L x,y …`); empty when the series has no point.
    pub path: String,
    /// Markers.
    pub points: Vec<Point>,
    /// Legend y position.
    pub legend_y: u32,
}

/// A chart, ready for `templates/chart.html`.
pub struct Chart {
    /// Accessible name.
    pub title: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Left edge of the plot area.
    pub left: u32,
    /// Bottom of the plot area (y of the minimum).
    pub bottom: u32,
    /// Top of the plot area (y of the maximum).
    pub top: u32,
    /// x of the right-hand x label.
    pub right: u32,
    /// Label of the y minimum.
    pub y_min_label: String,
    /// Label of the y maximum.
    pub y_max_label: String,
    /// Label of the x minimum.
    pub x_first: String,
    /// Label of the x maximum.
    pub x_last: String,
    /// Lines.
    pub series: Vec<Series>,
    /// Right-hand legend x.
    pub legend_x: u32,
    x_range: (f64, f64),
    y_max: f64,
}

/// A point to plot, in data units.
pub struct Datum {
    /// x (seconds, a month index, a bin …).
    pub x: f64,
    /// y (score, count …).
    pub y: f64,
    /// Filled marker.
    pub filled: bool,
    /// Tooltip.
    pub label: String,
}

impl Chart {
    /// A `width` × `height` chart over `x_range` (labelled `x_labels`) and 0 … `y_max`.
    pub fn new(
        title: &str,
        (width, height): (u32, u32),
        x_range: (f64, f64),
        x_labels: (String, String),
        y_max: f64,
        y_max_label: String,
    ) -> Chart {
        Chart {
            title: title.to_owned(),
            width,
            height,
            left: 40,
            bottom: height - 20,
            top: 10,
            right: width - 10,
            y_min_label: "0".into(),
            y_max_label,
            x_first: x_labels.0,
            x_last: x_labels.1,
            series: Vec::new(),
            legend_x: width.saturating_sub(170),
            x_range,
            y_max: if y_max > 0.0 { y_max } else { 1.0 },
        }
    }

    /// Adds a line through `data` (in the order given).
    pub fn add(&mut self, name: &str, color: &str, data: Vec<Datum>) {
        let (x0, x1) = self.x_range;
        let span = if x1 > x0 { x1 - x0 } else { 1.0 };
        let plot_w = f64::from(self.right.saturating_sub(self.left + 10));
        let plot_h = f64::from(self.bottom - self.top);
        let points: Vec<Point> = data
            .into_iter()
            .filter(|d| d.x.is_finite() && d.y.is_finite())
            .map(|d| {
                let x = f64::from(self.left) + 5.0 + (d.x - x0) / span * plot_w;
                let y = f64::from(self.bottom) - d.y.clamp(0.0, self.y_max) / self.y_max * plot_h;
                Point {
                    x: format!("{x:.1}"),
                    y: format!("{y:.1}"),
                    filled: d.filled,
                    label: d.label,
                }
            })
            .collect();
        let path = points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}{},{}", if i == 0 { "M" } else { " L" }, p.x, p.y))
            .collect();
        let legend_y = self.top + 12 + 14 * u32::try_from(self.series.len()).unwrap_or(0);
        self.series.push(Series {
            name: name.to_owned(),
            color: color.to_owned(),
            path,
            points,
            legend_y,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datum(x: f64, y: f64) -> Datum {
        Datum {
            x,
            y,
            filled: true,
            label: String::new(),
        }
    }

    #[test]
    fn points_land_inside_the_plot_area_and_the_path_joins_them() {
        let mut c = Chart::new(
            "t",
            (300, 120),
            (0.0, 10.0),
            ("a".into(), "b".into()),
            100.0,
            "100".into(),
        );
        c.add(
            "s",
            "#000",
            vec![datum(0.0, 0.0), datum(10.0, 100.0), datum(5.0, 250.0)],
        );
        let s = &c.series[0];
        assert_eq!(s.points[0].x, "45.0");
        assert_eq!(s.points[0].y, "100.0");
        assert_eq!(s.points[1].y, "10.0");
        // Above the range: clamped to the top, never drawn outside the box.
        assert_eq!(s.points[2].y, "10.0");
        assert_eq!(s.path, "M45.0,100.0 L285.0,10.0 L165.0,10.0");
    }

    #[test]
    fn a_flat_range_and_nan_values_do_not_break_the_chart() {
        let mut c = Chart::new(
            "t",
            (300, 120),
            (5.0, 5.0),
            ("a".into(), "a".into()),
            0.0,
            "0".into(),
        );
        c.add("s", "#000", vec![datum(5.0, f64::NAN), datum(5.0, 0.0)]);
        assert_eq!(c.series[0].points.len(), 1);
        assert!(!c.series[0].path.contains("NaN"));
    }
}
