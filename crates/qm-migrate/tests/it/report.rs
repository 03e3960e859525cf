//! The HTML report of `demo`, rendered by a real browser: headless Chromium (Debian's `chromium`,
//! which `.ci/run` installs) takes a screenshot in which the charts are drawn, and a `<script>`
//! planted in a source record's field is shown as text, never run.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> PathBuf {
    let candidates = [
        std::env::var_os("QM_MIGRATE_CHROMIUM").map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .expect("this test needs Chromium: `apt-get install chromium` (.ci/run installs it), or set QM_MIGRATE_CHROMIUM")
}

/// Chromium, headless, on `page` with `args` (its own profile folder, no network of its own).
fn browse(profile: &Path, page: &Path, args: &[String]) -> std::process::Output {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Pixels of exactly `rgb` in an RGB(A) PNG.
fn count_colour(png_path: &Path, rgb: [u8; 3]) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    buf[..info.buffer_size()]
        .chunks_exact(channels)
        .filter(|px| px[..3] == rgb)
        .count()
}

#[tokio::test]
async fn the_demo_report_renders_its_charts_in_chromium_and_no_source_script_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = qm_migrate::demo::run(&out, 300, false, &indicatif::ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(o.code, 0, "{}", o.human);
    let report = out.join("report.html");
    assert_eq!(o.json["report"].as_str(), Some(report.to_str().unwrap()));
    assert!(
        o.human.contains("report: "),
        "demo ends with the report path"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    // Self-contained: no script of ours, nothing fetched.
    assert!(
        !html.contains("<script"),
        "a <script> element is in the page"
    );
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(
        html.contains("eighty&#60;script&#62;") || html.contains("eighty&lt;script&gt;"),
        "the planted source string is shown, escaped"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&report).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let (profile, shot) = (dir.path().join("profile"), dir.path().join("report.png"));
    let page = report.clone();
    let (profile2, shot2) = (profile.clone(), shot.clone());
    let dom = tokio::task::spawn_blocking(move || {
        browse(
            &profile2,
            &page,
            &[
                "--window-size=1200,1400".into(),
                format!("--screenshot={}", shot2.display()),
            ],
        );
        let dom = browse(&profile2, &page, &["--dump-dom".into()]);
        String::from_utf8_lossy(&dom.stdout).into_owned()
    })
    .await
    .unwrap();

    // The DOM after the page ran: the planted script did not run (it would rename the page).
    assert!(
        dom.contains("<title>qm-migrate report: Calabrio ONE → Genesys Cloud</title>"),
        "title changed: a source script ran"
    );
    assert!(!dom.contains("pwned</title>"));
    // The charts have drawn paths: two per-month charts (3 series each) and two distributions.
    let drawn = dom
        .split("<path class=\"series\" d=\"M")
        .skip(1)
        .filter(|p| p.split('"').next().unwrap_or("").matches(" L").count() >= 5)
        .count();
    assert!(drawn >= 8, "{drawn} drawn chart paths");

    // The screenshot shows them: the series colours, as pixels.
    let green = count_colour(&shot, [0x22, 0xaa, 0x66]);
    let blue = count_colour(&shot, [0x33, 0x66, 0xcc]);
    let grey = count_colour(&shot, [0x88, 0x88, 0x88]);
    assert!(
        green > 500 && blue > 500 && grey > 200,
        "chart pixels in the screenshot: green {green}, blue {blue}, grey {grey}"
    );
}
