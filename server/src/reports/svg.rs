//! Charts drawn on the server as SVG, placed inside the page: no script, no style
//! attribute (the console's CSP allows neither), colours from CSS classes of the
//! console's stylesheet (`.chart .s0`, `.s1`), sizes as presentation attributes. Each
//! chart is an image with a title for screen readers; the page shows the same numbers
//! in a table next to it.

use std::fmt::Write;

const WIDTH: u32 = 640;
const BAR_HEIGHT: u32 = 18;
const BAR_GAP: u32 = 6;
const LABEL_WIDTH: u32 = 200;
const PLOT_HEIGHT: u32 = 160;
const AXIS: u32 = 24;

/// The top of an axis for values up to `max`: 1, 2 or 5 times a power of ten, so the
/// longest bar ends on a round number; 1 when every value is 0 (no division by zero).
pub fn axis_max(max: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for factor in [1, 2, 5] {
            let top = step.saturating_mul(factor);
            if top >= max || top == u64::MAX {
                return top.max(1);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// The length of `value` on a scale whose top is `top` drawn `length` long.
pub fn scaled(value: u64, top: u64, length: u32) -> u32 {
    let top = top.max(1);
    let value = value.min(top);
    u32::try_from(u128::from(value) * u128::from(length) / u128::from(top)).unwrap_or(length)
}

/// Text for inside SVG markup.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn open(out: &mut String, title: &str, height: u32) {
    let title = escape(title);
    let _ = write!(
        out,
        "<svg class=\"chart\" role=\"img\" aria-label=\"{title}\" viewBox=\"0 0 {WIDTH} \
         {height}\" width=\"{WIDTH}\" height=\"{height}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>{title}</title>"
    );
}

/// Horizontal bars, one per `(label, value)`, longest at the axis' top. No rows: a
/// short chart saying so.
pub fn bars(title: &str, rows: &[(String, u64)]) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        open(&mut out, title, AXIS);
        out.push_str("<text class=\"empty\" x=\"0\" y=\"16\">No data</text></svg>");
        return out;
    }
    let count = u32::try_from(rows.len()).unwrap_or(u32::MAX / 32);
    let height = count.saturating_mul(BAR_HEIGHT + BAR_GAP);
    open(&mut out, title, height);
    let top = axis_max(rows.iter().map(|r| r.1).max().unwrap_or(0));
    let length = WIDTH - LABEL_WIDTH - 60;
    for (i, (label, value)) in (0u32..).zip(rows) {
        let y = i * (BAR_HEIGHT + BAR_GAP);
        let width = scaled(*value, top, length);
        let text_y = y + BAR_HEIGHT - 5;
        let _ = write!(
            out,
            "<text x=\"{x}\" y=\"{text_y}\" text-anchor=\"end\">{label}</text>\
             <rect class=\"s0\" x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{width}\" \
             height=\"{BAR_HEIGHT}\"/><text x=\"{vx}\" y=\"{text_y}\">{value}</text>",
            x = LABEL_WIDTH - 6,
            label = escape(label),
            vx = LABEL_WIDTH + width + 4,
        );
    }
    out.push_str("</svg>");
    out
}

/// Columns over `labels` (days, hours), one series or two side by side (`series[k][i]`
/// is series `k` at label `i`), coloured `s0`, `s1` and named by `legend`; every
/// `label_every`th label shown.
pub fn columns(
    title: &str,
    labels: &[String],
    series: &[&[u64]],
    legend: &[&str],
    label_every: usize,
) -> String {
    let mut out = String::new();
    let height = PLOT_HEIGHT + AXIS;
    open(&mut out, title, height);
    for (j, name) in (0u32..).zip(legend) {
        let x = WIDTH - 220 + j * 110;
        let _ = write!(
            out,
            "<rect class=\"s{j}\" x=\"{x}\" y=\"2\" width=\"10\" height=\"10\"/>\
             <text x=\"{tx}\" y=\"11\">{name}</text>",
            tx = x + 14,
            name = escape(name),
        );
    }
    let top = axis_max(
        series
            .iter()
            .flat_map(|s| s.iter().copied())
            .max()
            .unwrap_or(0),
    );
    let left = 48u32;
    let _ = write!(
        out,
        "<text x=\"{x}\" y=\"12\" text-anchor=\"end\">{top}</text>\
         <text x=\"{x}\" y=\"{PLOT_HEIGHT}\" text-anchor=\"end\">0</text>\
         <line class=\"axis\" x1=\"{left}\" y1=\"{PLOT_HEIGHT}\" x2=\"{WIDTH}\" \
         y2=\"{PLOT_HEIGHT}\"/>",
        x = left - 4,
    );
    if labels.is_empty() || series.is_empty() {
        out.push_str("<text class=\"empty\" x=\"60\" y=\"80\">No data</text></svg>");
        return out;
    }
    let n = u32::try_from(labels.len()).unwrap_or(u32::MAX);
    let k = u32::try_from(series.len()).unwrap_or(1);
    let slot = (WIDTH - left) / n.max(1);
    let bar = (slot.saturating_sub(2) / k).max(1);
    let every = label_every.max(1);
    for (i, label) in (0u32..).zip(labels) {
        let x0 = left + i * slot;
        for (j, values) in (0u32..).zip(series) {
            let value = values.get(i as usize).copied().unwrap_or(0);
            let h = scaled(value, top, PLOT_HEIGHT - 16);
            let _ = write!(
                out,
                "<rect class=\"s{j}\" x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{h}\"/>",
                x = x0 + 1 + j * bar,
                y = PLOT_HEIGHT - h,
            );
        }
        if (i as usize).is_multiple_of(every) {
            let _ = write!(
                out,
                "<text x=\"{x0}\" y=\"{y}\">{label}</text>",
                y = PLOT_HEIGHT + 16,
                label = escape(label),
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_ends_on_a_round_number() {
        assert_eq!(axis_max(0), 1);
        assert_eq!(axis_max(1), 1);
        assert_eq!(axis_max(3), 5);
        assert_eq!(axis_max(7), 10);
        assert_eq!(axis_max(11), 20);
        assert_eq!(axis_max(200), 200);
        assert_eq!(axis_max(201), 500);
        assert_eq!(axis_max(u64::MAX), u64::MAX);
    }

    #[test]
    fn values_scale_to_the_length() {
        assert_eq!(scaled(0, 10, 100), 0);
        assert_eq!(scaled(5, 10, 100), 50);
        assert_eq!(scaled(10, 10, 100), 100);
        // Beyond the top (never from `axis_max`) is clipped, a zero top is no panic.
        assert_eq!(scaled(20, 10, 100), 100);
        assert_eq!(scaled(3, 0, 100), 100);
        assert_eq!(scaled(u64::MAX, u64::MAX, 100), 100);
    }

    #[test]
    fn empty_data_draws_a_labelled_empty_chart() {
        let svg = bars("Denials by reason", &[]);
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("<title>Denials by reason</title>"));
        assert!(svg.contains("No data"));
        let svg = columns("Per day", &[], &[], &[], 1);
        assert!(svg.contains("No data"));
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn one_value_fills_the_scale() {
        let svg = bars("Doors", &[("Front <door>".to_owned(), 7)]);
        // The axis' top is 10: 7 is 7/10 of the bar length (380).
        assert!(svg.contains("width=\"266\""), "{svg}");
        assert!(svg.contains("Front &lt;door&gt;"));
        let svg = columns("Day", &["12-01".to_owned()], &[&[4]], &[], 1);
        // Top 5, plot 144 high: 4/5 of it.
        assert!(svg.contains("height=\"115\""), "{svg}");
        assert!(!svg.contains("style="));
    }

    #[test]
    fn two_series_side_by_side() {
        let labels = vec!["a".to_owned(), "b".to_owned()];
        let svg = columns("Two", &labels, &[&[1, 2], &[0, 2]], &["one", "two"], 1);
        // Two columns and a legend swatch each.
        assert_eq!(svg.matches("class=\"s0\"").count(), 3);
        assert_eq!(svg.matches("class=\"s1\"").count(), 3);
        assert!(svg.contains(">two</text>"));
    }
}
