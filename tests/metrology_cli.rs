//! End-to-end tests of `joule metrology analyze` and `calibrate`: WAV captures written with
//! plain `sin()` into a temporary directory, the real binary run on them.

use std::f64::consts::{PI, SQRT_2};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Sample rate of the test captures.
const RATE: u32 = 4000;
/// Mains frequency of the test captures.
const MAINS_HZ: f64 = 50.0;
/// Peak counts of the voltage channel at 230 V RMS.
const V_PEAK_COUNTS: f64 = 20_000.0;
/// Peak counts of the current channel at 10 A RMS.
const I_PEAK_COUNTS: f64 = 16_000.0;
/// Volts per count.
const V_SCALE: f64 = 230.0 * SQRT_2 / V_PEAK_COUNTS;
/// Amps per count.
const I_SCALE: f64 = 10.0 * SQRT_2 / I_PEAK_COUNTS;
/// DC offset added to every channel, counts.
const OFFSET: f64 = 100.0;

/// How the samples are stored.
#[derive(Debug, Clone, Copy)]
enum Store {
    /// 16-bit PCM, counts rounded.
    Int16,
    /// 32-bit float, counts divided by this.
    Float32(f64),
    /// 8-bit PCM (refused).
    Int8,
}

/// A single-phase capture: `seconds` long, current `current_scale` × 10 A RMS, lagging the
/// voltage by `delay_s`.
fn single_phase(seconds: f64, current_scale: f64, delay_s: f64) -> Vec<Vec<f64>> {
    let frames = (seconds * f64::from(RATE)).round() as usize;
    let omega = 2.0 * PI * MAINS_HZ;
    (0..frames)
        .map(|n| {
            let t = n as f64 / f64::from(RATE);
            vec![
                OFFSET + V_PEAK_COUNTS * (omega * t).sin(),
                OFFSET + current_scale * I_PEAK_COUNTS * (omega * (t - delay_s)).sin(),
            ]
        })
        .collect()
}

/// A three-phase capture (PF 1 on every phase), currents `amps` RMS per phase; with
/// `neutral`, a seventh channel carrying `neutral` × the sum of the phase currents.
fn three_phase(seconds: f64, amps: [f64; 3], neutral: Option<f64>) -> Vec<Vec<f64>> {
    let frames = (seconds * f64::from(RATE)).round() as usize;
    let omega = 2.0 * PI * MAINS_HZ;
    (0..frames)
        .map(|n| {
            let t = n as f64 / f64::from(RATE);
            let mut frame = Vec::with_capacity(7);
            let mut current_sum = 0.0;
            for (k, amps) in amps.iter().enumerate() {
                let angle = omega * t - 2.0 * PI * k as f64 / 3.0;
                let current = amps / 10.0 * I_PEAK_COUNTS * angle.sin();
                current_sum += current;
                frame.push(OFFSET + V_PEAK_COUNTS * angle.sin());
                frame.push(OFFSET + current);
            }
            if let Some(neutral) = neutral {
                frame.push(OFFSET + neutral * current_sum);
            }
            frame
        })
        .collect()
}

/// Writes frames of counts as a WAV file.
fn write_wav(path: &Path, channels: u16, store: Store, frames: &[Vec<f64>]) {
    let (bits, format) = match store {
        Store::Int16 => (16, hound::SampleFormat::Int),
        Store::Float32(_) => (32, hound::SampleFormat::Float),
        Store::Int8 => (8, hound::SampleFormat::Int),
    };
    let spec = hound::WavSpec {
        channels,
        sample_rate: RATE,
        bits_per_sample: bits,
        sample_format: format,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create wav");
    for frame in frames {
        for &value in frame {
            match store {
                Store::Int16 => writer.write_sample(value.round() as i16),
                Store::Float32(divisor) => writer.write_sample((value / divisor) as f32),
                Store::Int8 => writer.write_sample((value / 256.0).round() as i8),
            }
            .expect("write sample");
        }
    }
    writer.finalize().expect("finalize wav");
}

/// Runs `joule` with arguments.
fn joule(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_joule"))
        .args(args)
        .output()
        .expect("run joule")
}

/// Runs `joule metrology analyze` on a capture with the test scales and extra flags.
fn analyze(path: &Path, v_scale: f64, i_scale: f64, extra: &[&str]) -> Output {
    let (v_scale, i_scale) = (v_scale.to_string(), i_scale.to_string());
    let path = path.to_str().expect("utf-8 path");
    let mut args = vec![
        "metrology",
        "analyze",
        path,
        "--v-scale",
        &v_scale,
        "--i-scale",
        &i_scale,
    ];
    args.extend_from_slice(extra);
    joule(&args)
}

/// The JSON lines of a successful run.
fn json_lines(output: &Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "joule failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
        .collect()
}

/// A numeric field of a line.
fn number(line: &Value, field: &str) -> f64 {
    line[field]
        .as_f64()
        .unwrap_or_else(|| panic!("`{field}` is a number in {line}"))
}

/// Asserts `actual` is within `percent` % of `expected`.
fn assert_close(actual: f64, expected: f64, percent: f64, what: &str) {
    let error = (actual - expected) / expected * 100.0;
    assert!(
        error.abs() <= percent,
        "{what}: {actual} is {error:+.4} % from {expected}"
    );
}

/// A file in a fresh temporary directory (kept alive by the returned guard).
fn temp_file(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    (dir, path)
}

#[test]
fn int16_capture_gives_accurate_one_second_lines() {
    let (_dir, path) = temp_file("clean.wav");
    write_wav(&path, 2, Store::Int16, &single_phase(5.0, 1.0, 0.0));
    let lines = json_lines(&analyze(&path, V_SCALE, I_SCALE, &[]));
    assert_eq!(lines.len(), 5, "{lines:?}");
    for (k, line) in lines.iter().enumerate() {
        let t = number(line, "t");
        assert!((t - (k + 1) as f64).abs() < 0.05, "line {k} ends at {t}");
        assert_close(number(line, "vrms"), 230.0, 0.1, "vrms");
        assert_close(number(line, "irms"), 10.0, 0.1, "irms");
        assert_close(number(line, "p_w"), 2300.0, 0.2, "p_w");
        assert_close(number(line, "s_va"), 2300.0, 0.2, "s_va");
        assert!(number(line, "pf") > 0.999, "{line}");
        assert!((number(line, "freq_hz") - 50.0).abs() < 0.01, "{line}");
        assert!(number(line, "vrms_min") <= number(line, "vrms_max"));
        assert_eq!(line["events"], Value::Array(Vec::new()));
        assert!(line.get("phases").is_none());
    }
    let last = &lines[4];
    assert!((number(last, "t") - 5.0).abs() < 1e-9, "{last}");
    assert_close(
        number(last, "import_wh"),
        2300.0 * 5.0 / 3600.0,
        0.1,
        "import",
    );
    assert_eq!(number(last, "export_wh"), 0.0);
    let imports: Vec<f64> = lines.iter().map(|l| number(l, "import_wh")).collect();
    assert!(imports.windows(2).all(|w| w[0] < w[1]), "{imports:?}");
}

#[test]
fn float32_capture_is_read_as_float_counts() {
    let (_dir, path) = temp_file("float.wav");
    // Stored as counts / 32768: the scales grow by the same factor.
    write_wav(
        &path,
        2,
        Store::Float32(32768.0),
        &single_phase(3.0, 1.0, 0.0),
    );
    let lines = json_lines(&analyze(&path, V_SCALE * 32768.0, I_SCALE * 32768.0, &[]));
    assert_eq!(lines.len(), 3);
    let last = &lines[2];
    assert_close(number(last, "vrms"), 230.0, 0.1, "vrms");
    assert_close(number(last, "p_w"), 2300.0, 0.2, "p_w");
    assert_close(
        number(last, "import_wh"),
        2300.0 * 3.0 / 3600.0,
        0.1,
        "import",
    );
}

#[test]
fn reversed_current_registers_export() {
    let (_dir, path) = temp_file("export.wav");
    write_wav(&path, 2, Store::Int16, &single_phase(3.0, -1.0, 0.0));
    let lines = json_lines(&analyze(&path, V_SCALE, I_SCALE, &[]));
    let last = lines.last().expect("lines");
    assert_close(number(last, "p_w"), -2300.0, 0.2, "p_w");
    assert!(number(last, "pf") < -0.999);
    assert_close(
        number(last, "export_wh"),
        2300.0 * 3.0 / 3600.0,
        0.1,
        "export",
    );
    assert_eq!(number(last, "import_wh"), 0.0);
}

#[test]
fn a_short_tail_merges_and_a_long_one_gets_its_own_line() {
    let (_dir, path) = temp_file("tail.wav");
    write_wav(&path, 2, Store::Int16, &single_phase(3.3, 1.0, 0.0));
    let lines = json_lines(&analyze(&path, V_SCALE, I_SCALE, &[]));
    assert_eq!(lines.len(), 3);
    assert!((number(&lines[2], "t") - 3.3).abs() < 1e-9);
    assert_close(
        number(&lines[2], "import_wh"),
        2300.0 * 3.3 / 3600.0,
        0.1,
        "import",
    );

    write_wav(&path, 2, Store::Int16, &single_phase(3.7, 1.0, 0.0));
    let lines = json_lines(&analyze(&path, V_SCALE, I_SCALE, &[]));
    assert_eq!(lines.len(), 4);
    assert!((number(&lines[3], "t") - 3.7).abs() < 1e-9);
    assert_close(number(&lines[3], "p_w"), 2300.0, 0.2, "tail p_w");
    assert_close(
        number(&lines[3], "import_wh"),
        2300.0 * 3.7 / 3600.0,
        0.1,
        "import",
    );
}

#[test]
fn longer_intervals_stay_on_the_grid() {
    let (_dir, path) = temp_file("grid.wav");
    write_wav(&path, 2, Store::Int16, &single_phase(6.0, 1.0, 0.0));
    let lines = json_lines(&analyze(&path, V_SCALE, I_SCALE, &["--interval", "2"]));
    let ends: Vec<f64> = lines.iter().map(|l| number(l, "t")).collect();
    assert_eq!(ends.len(), 3, "{ends:?}");
    for (k, t) in ends.iter().enumerate() {
        assert!((t - 2.0 * (k + 1) as f64).abs() < 0.05, "{ends:?}");
    }
}

#[test]
fn table_format_prints_a_header_and_rows() {
    let (_dir, path) = temp_file("table.wav");
    write_wav(&path, 2, Store::Int16, &single_phase(2.0, 1.0, 0.0));
    let output = analyze(&path, V_SCALE, I_SCALE, &["--format", "table"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for unit in [
        "t s",
        "V",
        "A",
        "W",
        "var",
        "VA",
        "PF",
        "Hz",
        "import Wh",
        "export Wh",
    ] {
        assert!(lines[0].contains(unit), "header lacks {unit}: {}", lines[0]);
    }
    assert!(lines[2].trim_start().starts_with("2.000"), "{}", lines[2]);
    assert!(lines[2].contains("230.00"), "{}", lines[2]);
}

#[test]
fn three_phase_sums_the_phases() {
    let (_dir, path) = temp_file("three.wav");
    write_wav(
        &path,
        6,
        Store::Int16,
        &three_phase(3.0, [10.0, 10.0, 10.0], None),
    );
    let lines = json_lines(&analyze(&path, V_SCALE, I_SCALE, &[]));
    assert_eq!(lines.len(), 3);
    let last = &lines[2];
    assert_close(number(last, "p_w"), 6900.0, 0.2, "p_w");
    assert_close(number(last, "vrms"), 230.0, 0.1, "vrms");
    assert_close(
        number(last, "import_wh"),
        6900.0 * 3.0 / 3600.0,
        0.1,
        "import",
    );
    let phases = last["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 3);
    for phase in phases {
        assert_close(number(phase, "p_w"), 2300.0, 0.2, "phase p_w");
        assert!((number(phase, "freq_hz") - 50.0).abs() < 0.01);
    }
}

#[test]
fn neutral_channel_is_checked_against_the_phases() {
    let (_dir, path) = temp_file("neutral.wav");
    let amps = [10.0, 5.0, 5.0];
    write_wav(&path, 7, Store::Int16, &three_phase(3.0, amps, Some(1.0)));
    let lines = json_lines(&analyze(&path, V_SCALE, I_SCALE, &[]));
    assert!(!event_kinds(&lines).contains(&"neutral_mismatch".to_owned()));
    assert_close(number(&lines[2], "p_w"), 4600.0, 0.2, "p_w");

    // The neutral carries nothing: a bypass.
    write_wav(&path, 7, Store::Int16, &three_phase(3.0, amps, Some(0.0)));
    let lines = json_lines(&analyze(&path, V_SCALE, I_SCALE, &[]));
    let kinds = event_kinds(&lines);
    assert!(kinds.contains(&"neutral_mismatch".to_owned()), "{kinds:?}");
}

/// The `kind` of every event on every line.
fn event_kinds(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .flat_map(|line| line["events"].as_array().expect("events"))
        .map(|event| event["kind"].as_str().expect("kind").to_owned())
        .collect()
}

/// Asserts a run failed with a message containing every one of `needles`.
fn assert_refused(output: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "should fail; stderr: {stderr}");
    assert!(output.stdout.is_empty(), "no output on failure");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "`{needle}` not in: {stderr}");
    }
}

#[test]
fn refuses_bad_captures_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let frames = single_phase(1.0, 1.0, 0.0);

    let three = dir.path().join("three-channels.wav");
    let wide: Vec<Vec<f64>> = frames.iter().map(|f| vec![f[0], f[1], 0.0]).collect();
    write_wav(&three, 3, Store::Int16, &wide);
    assert_refused(
        &analyze(&three, V_SCALE, I_SCALE, &[]),
        &["three-channels.wav", "3 channel"],
    );

    let empty = dir.path().join("empty.wav");
    write_wav(&empty, 2, Store::Int16, &[]);
    assert_refused(
        &analyze(&empty, V_SCALE, I_SCALE, &[]),
        &["empty.wav", "no samples"],
    );

    let eight = dir.path().join("eight-bit.wav");
    write_wav(&eight, 2, Store::Int8, &frames);
    assert_refused(
        &analyze(&eight, V_SCALE, I_SCALE, &[]),
        &["eight-bit.wav", "8-bit"],
    );

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "this is not audio\n").expect("write text");
    assert_refused(
        &analyze(&text, V_SCALE, I_SCALE, &[]),
        &["notes.txt", "not a readable WAV"],
    );

    let nan = dir.path().join("nan.wav");
    let mut poisoned = frames.clone();
    poisoned[10][1] = f64::NAN;
    write_wav(&nan, 2, Store::Float32(1.0), &poisoned);
    assert_refused(
        &analyze(&nan, V_SCALE, I_SCALE, &[]),
        &["nan.wav", "sample 1 of frame 10", "not a finite number"],
    );

    let missing = dir.path().join("missing.wav");
    assert_refused(
        &analyze(&missing, V_SCALE, I_SCALE, &[]),
        &["missing.wav", "cannot open"],
    );
}

#[test]
fn refuses_bad_flags_and_slow_sampling() {
    let (_dir, path) = temp_file("ok.wav");
    write_wav(&path, 2, Store::Int16, &single_phase(1.0, 1.0, 0.0));
    assert_refused(&analyze(&path, -1.0, I_SCALE, &[]), &["--v-scale"]);
    assert_refused(&analyze(&path, V_SCALE, f64::NAN, &[]), &["--i-scale"]);
    assert_refused(
        &analyze(&path, V_SCALE, I_SCALE, &["--interval", "0"]),
        &["--interval"],
    );
    // 4 kHz is fewer than 16 samples per cycle of 400 Hz mains.
    assert_refused(
        &analyze(&path, V_SCALE, I_SCALE, &["--nominal-freq", "400"]),
        &["ok.wav", "sample_rate_hz"],
    );
}

/// The value of `key = value` in the calibration snippet.
fn toml_value(stdout: &str, key: &str) -> f64 {
    stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix(key)?
                .trim()
                .strip_prefix('=')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no `{key}` in:\n{stdout}"))
}

#[test]
fn calibrate_recovers_scales_and_delay() {
    let (_dir, path) = temp_file("calibration.wav");
    write_wav(&path, 2, Store::Int16, &single_phase(5.0, 1.0, 120e-6));
    let file = path.to_str().expect("utf-8 path");
    let output = joule(&[
        "metrology",
        "calibrate",
        file,
        "--ref-v",
        "230",
        "--ref-a",
        "10",
        "--ref-w",
        "2300",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("[metrology]"), "{stdout}");
    assert!(
        stdout.contains("reference 230.0 V 10.00 A 2300.0 W"),
        "{stdout}"
    );
    assert!(stdout.contains("# verification:"), "{stdout}");
    assert_close(toml_value(&stdout, "v_scale"), V_SCALE, 0.1, "v_scale");
    assert_close(toml_value(&stdout, "i_scale"), I_SCALE, 0.1, "i_scale");
    let delay = toml_value(&stdout, "i_delay_us");
    assert!((delay - 120.0).abs() < 2.0, "delay {delay} µs:\n{stdout}");

    // The printed flags give an accurate analysis of the same capture.
    let flags = stdout
        .lines()
        .find_map(|line| line.strip_prefix("# analyze flags: "))
        .expect("analyze flags");
    let mut args = vec!["metrology", "analyze", file];
    args.extend(flags.split_whitespace());
    let lines = json_lines(&joule(&args));
    let last = lines.last().expect("lines");
    assert_close(number(last, "p_w"), 2300.0, 0.05, "p_w after calibration");
}

#[test]
fn calibrate_refuses_inconsistent_references_and_silent_current() {
    let (_dir, path) = temp_file("capture.wav");
    write_wav(&path, 2, Store::Int16, &single_phase(2.0, 1.0, 0.0));
    let file = path.to_str().expect("utf-8 path");
    let run = |v: &str, a: &str, w: &str| {
        joule(&[
            "metrology",
            "calibrate",
            file,
            "--ref-v",
            v,
            "--ref-a",
            a,
            "--ref-w",
            w,
        ])
    };
    assert_refused(&run("230", "10", "2400"), &["--ref-w", "inconsistent"]);
    assert_refused(&run("230", "0", "2300"), &["--ref-a"]);
    assert_refused(&run("nan", "10", "2300"), &["--ref-v"]);

    write_wav(&path, 2, Store::Int16, &single_phase(2.0, 0.0, 0.0));
    assert_refused(
        &run("230", "10", "2300"),
        &["capture.wav", "current channel carries no signal"],
    );
}

#[test]
fn accuracy_updates_the_table_between_the_markers_and_refuses_a_document_without_them() {
    let (_dir, document) = temp_file("METROLOGY.md");
    std::fs::write(&document, "# Title\n\nNo markers here.\n").expect("write document");
    let output = joule(&[
        "metrology",
        "accuracy",
        "--update",
        &document.to_string_lossy(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("accuracy-table:start"), "{stderr}");

    std::fs::write(
        &document,
        "before\n<!-- accuracy-table:start -->\nold\n<!-- accuracy-table:end -->\nafter\n",
    )
    .expect("write document");
    let output = joule(&[
        "metrology",
        "accuracy",
        "--update",
        &document.to_string_lossy(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&document).expect("read document");
    assert!(text.starts_with("before\n<!-- accuracy-table:start -->\n"));
    assert!(text.ends_with("<!-- accuracy-table:end -->\nafter\n"));
    assert!(!text.contains("old"));
    assert!(text.contains("| 1 Ib, PF 0.5 ind | ±1.0 % |"), "{text}");
    assert!(!text.contains("FAIL"));
}
