//! Progress bars on a terminal (indicatif): one bar per wave, the controller's
//! activity as the bar's message, every other event printed above the bars.

use super::plain::line;
use super::{Event, Reporter};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::sync::Mutex;

/// Progress bars on stderr.
pub struct TtyReporter {
    multi: MultiProgress,
    bars: Mutex<HashMap<usize, ProgressBar>>,
}

impl TtyReporter {
    /// Draw on stderr.
    pub fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::default(),
        }
    }
}

impl Default for TtyReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for TtyReporter {
    fn emit(&self, event: &Event) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        match event {
            Event::WaveStart { wave, objects } => {
                let bar = self.multi.add(ProgressBar::new(objects.len() as u64));
                let style = ProgressStyle::with_template(
                    "{spinner} wave {prefix}: [{bar:20}] {pos}/{len} gone {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar.set_prefix(wave.to_string());
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                bars.insert(*wave, bar);
            }
            Event::Gone { wave, .. } => {
                if let Some(bar) = bars.get(wave) {
                    bar.inc(1);
                }
            }
            Event::Progress { wave, .. } => {
                if let Some(bar) = bars.get(wave) {
                    let text = line(event);
                    let msg = text
                        .split_once(": ")
                        .map(|(_, m)| m.to_string())
                        .unwrap_or(text);
                    bar.set_message(msg);
                }
            }
            Event::WaveDone { wave, seconds } => {
                if let Some(bar) = bars.get(wave) {
                    bar.finish_with_message(format!("done in {seconds:.2}s"));
                }
            }
            Event::WaveTimedOut { wave, .. } => {
                if let Some(bar) = bars.get(wave) {
                    bar.abandon_with_message("timed out");
                }
                let _ = self.multi.println(line(event));
            }
            _ => {
                let _ = self.multi.println(line(event));
            }
        }
    }

    /// A release among several: its lines, tagged, without bars.
    fn emit_tagged(&self, release: &str, event: &Event) {
        let _ = self.multi.println(format!("[{release}] {}", line(event)));
    }
}
