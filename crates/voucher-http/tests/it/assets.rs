//! Voucher assets: `assets.qr.url` and `assets.barcode.url` lead, without
//! a key, to images that decode back to the code (the QR with rqrr, the
//! barcode with the Code 128 decoder below); forged, swapped, cross-project
//! and dead tokens are 404.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use tower::ServiceExt;
use voucher_core::port::VoucherStore;
use voucher_http::{AppState, Config};

use crate::support::{amount_off, check_error, create, spec, start, Env};

const PUBLIC_URL: &str = "https://vouchers.test";

fn env() -> Env {
    Env::with_config(Config {
        public_url: Some(format!("{PUBLIC_URL}/")),
        ..Config::default()
    })
}

/// A GET without any key: status, headers, body bytes.
async fn fetch(app: &axum::Router, path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let request = Request::builder().uri(path).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (parts.status, parts.headers, bytes.to_vec())
}

/// The path of an asset URL under [`PUBLIC_URL`].
fn path_of(url: &Value) -> String {
    let url = url.as_str().unwrap();
    url.strip_prefix(PUBLIC_URL)
        .unwrap_or_else(|| panic!("{url} is not under {PUBLIC_URL}"))
        .to_owned()
}

async fn fetch_error(env: &Env, path: &str) -> (StatusCode, Value) {
    let (status, _, body) = fetch(&env.app, path).await;
    (status, serde_json::from_slice(&body).unwrap())
}

/// A greyscale PNG's width, height and pixels.
fn decode_png(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    pixels.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, pixels)
}

/// The text of the one QR symbol in a greyscale image.
fn read_qr(width: usize, height: usize, pixels: &[u8]) -> String {
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR symbol");
    grids[0].decode().unwrap().1
}

/// Code 128's symbols as bar and space widths in modules (ISO/IEC 15417),
/// by value; 103, 104, 105 start code sets A, B, C.
const PATTERNS: [&str; 106] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
    "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
    "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
    "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
    "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
    "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
    "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
    "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", "114131", "311141", "411131", "211412", "211214", "211232",
];
const STOP: &str = "2331112";

/// Decodes a Code 128 barcode (code set B or C, no shifts) from one row of
/// pixels, dark below 128: checks the quiet zones, the start, the checksum
/// and the stop.
fn read_code128(row: &[bool]) -> String {
    let first = row.iter().position(|d| *d).expect("a bar");
    let last = row.iter().rposition(|d| *d).unwrap();
    let mut runs: Vec<usize> = Vec::new();
    let mut current = (row[first], 0);
    for dark in &row[first..=last] {
        if *dark == current.0 {
            current.1 += 1;
        } else {
            runs.push(current.1);
            current = (*dark, 1);
        }
    }
    runs.push(current.1);
    let module = *runs.iter().min().unwrap();
    assert!(runs.iter().all(|r| r % module == 0), "whole modules");
    assert!(
        first >= 10 * module && row.len() - 1 - last >= 10 * module,
        "quiet zones"
    );
    let widths: Vec<String> = runs.iter().map(|r| (r / module).to_string()).collect();
    assert_eq!((widths.len() - 7) % 6, 0, "symbols of six runs and a stop");
    let (symbols, stop) = widths.split_at(widths.len() - 7);
    assert_eq!(stop.concat(), STOP);
    let values: Vec<usize> = symbols
        .chunks(6)
        .map(|s| {
            let pattern = s.concat();
            PATTERNS
                .iter()
                .position(|p| *p == pattern)
                .unwrap_or_else(|| panic!("no symbol {pattern}"))
        })
        .collect();
    let (data, checksum) = values.split_at(values.len() - 1);
    let weighted: usize = data.iter().enumerate().map(|(i, v)| i.max(1) * v).sum();
    assert_eq!(weighted % 103, checksum[0], "checksum");
    let (start, data) = data.split_first().unwrap();
    match start {
        104 => data
            .iter()
            .map(|v| {
                assert!(*v < 95, "a code set B character");
                char::from(u8::try_from(v + 32).unwrap())
            })
            .collect(),
        105 => data
            .iter()
            .map(|v| {
                assert!(*v < 100, "a code set C pair");
                format!("{v:02}")
            })
            .collect(),
        other => panic!("start {other}"),
    }
}

/// The middle row of a barcode PNG, dark or light.
fn barcode_png_row(bytes: &[u8]) -> Vec<bool> {
    let (width, height, pixels) = decode_png(bytes);
    let y = height / 2;
    pixels[y * width..(y + 1) * width]
        .iter()
        .map(|p| *p < 128)
        .collect()
}

/// An SVG's module grid: its `viewBox` size, with every black `<rect>` of
/// the `<g fill="#000">` drawn dark.
fn svg_modules(text: &str) -> (usize, usize, Vec<bool>) {
    let document = roxmltree::Document::parse(text).unwrap();
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let view_box: Vec<usize> = root
        .attribute("viewBox")
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    let (width, height) = (view_box[2], view_box[3]);
    let group = root
        .children()
        .find(|n| n.has_tag_name("g"))
        .expect("a group of modules");
    assert_eq!(group.attribute("fill"), Some("#000"));
    let mut dark = vec![false; width * height];
    let mut rects = 0;
    for rect in group.children().filter(|n| n.has_tag_name("rect")) {
        let number = |name: &str| -> usize { rect.attribute(name).unwrap().parse().unwrap() };
        let (x, y, w, h) = (number("x"), number("y"), number("width"), number("height"));
        assert!(x + w <= width && y + h <= height);
        for row in y..y + h {
            for column in x..x + w {
                dark[row * width + column] = true;
            }
        }
        rects += 1;
    }
    assert!(rects > 10, "module rects");
    (width, height, dark)
}

/// The QR in an SVG: its modules drawn 4 pixels wide and decoded.
fn read_qr_svg(text: &str) -> String {
    let (width, height, dark) = svg_modules(text);
    let scale = 4;
    let (pw, ph) = (width * scale, height * scale);
    let pixels: Vec<u8> = (0..pw * ph)
        .map(|i| {
            let (x, y) = (i % pw / scale, i / pw / scale);
            if dark[y * width + x] {
                0
            } else {
                255
            }
        })
        .collect();
    read_qr(pw, ph, &pixels)
}

/// Both images of `voucher` (a wire voucher), in both formats, decode to
/// `code`; the headers say what they are.
async fn check_images(env: &Env, voucher: &Value, code: &str) {
    let qr = path_of(&voucher["assets"]["qr"]["url"]);
    let barcode = path_of(&voucher["assets"]["barcode"]["url"]);

    let (status, headers, png) = fetch(&env.app, &qr).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    let cache = headers[header::CACHE_CONTROL].to_str().unwrap();
    assert!(
        cache.contains("immutable") && cache.contains("max-age="),
        "{cache}"
    );
    let (width, height, pixels) = decode_png(&png);
    assert_eq!(read_qr(width, height, &pixels), code);
    // `format=png` is the default.
    assert_eq!(fetch(&env.app, &format!("{qr}?format=png")).await.2, png);

    let (status, headers, svg) = fetch(&env.app, &format!("{qr}?format=svg")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/svg+xml");
    assert_eq!(read_qr_svg(std::str::from_utf8(&svg).unwrap()), code);

    let (status, headers, png) = fetch(&env.app, &barcode).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(read_code128(&barcode_png_row(&png)), code);

    let (status, headers, svg) = fetch(&env.app, &format!("{barcode}?format=svg")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/svg+xml");
    let (width, height, dark) = svg_modules(std::str::from_utf8(&svg).unwrap());
    let middle = height / 2;
    assert_eq!(
        read_code128(&dark[middle * width..(middle + 1) * width]),
        code
    );
}

#[tokio::test]
async fn a_vouchers_asset_urls_show_its_code_without_revealing_it() {
    let env = env();
    let code = "SPRING-GIFT-2026";
    let (status, created) = env
        .call(
            "POST",
            &format!("/v1/vouchers/{code}"),
            Some(json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 25}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let assets = created["assets"].clone();
    for kind in ["qr", "barcode"] {
        let url = assets[kind]["url"].as_str().unwrap();
        let id = assets[kind]["id"].as_str().unwrap();
        assert_eq!(url, format!("{PUBLIC_URL}/v1/assets/{kind}/{id}"));
        assert!(!url.contains(code) && !url.contains("SPRING"), "{url}");
        assert!(!url.contains(created["id"].as_str().unwrap()), "{url}");
    }
    assert_ne!(assets["qr"]["id"], assets["barcode"]["id"]);

    // The same links on every read.
    let (_, got) = env.call("GET", &format!("/v1/vouchers/{code}"), None).await;
    assert_eq!(got["assets"], assets);
    let (_, list) = env.call("GET", "/v1/vouchers", None).await;
    assert_eq!(list["vouchers"][0]["assets"], assets);
    let (_, disabled) = env
        .call("POST", &format!("/v1/vouchers/{code}/disable"), None)
        .await;
    assert_eq!(disabled["assets"], assets);

    check_images(&env, &created, code).await;

    // A new state over the same store (a restart) signs the same way.
    let restarted = AppState::new(
        Arc::new(env.store.clone()),
        Arc::new(start),
        Config {
            public_url: Some(PUBLIC_URL.to_owned()),
            ..Config::default()
        },
    );
    let app = voucher_http::app(restarted);
    let (status, _, _) = fetch(&app, &path_of(&assets["qr"]["url"])).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn digits_use_code_set_c_and_other_characters_code_set_b() {
    let env = env();
    for code in ["12345678", "1234567", "a-b_C~{}"] {
        create(&env, spec(code, amount_off(500), None));
        let (_, voucher) = env
            .call("GET", &format!("/v1/vouchers/{}", urlencode(code)), None)
            .await;
        check_images(&env, &voucher, code).await;
    }
}

fn urlencode(code: &str) -> String {
    percent_encoding::utf8_percent_encode(code, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn a_code_code_128_cannot_hold_has_a_qr_but_no_barcode() {
    let env = env();
    let code = "CAFÉ-10";
    create(&env, spec(code, amount_off(500), None));
    let (_, voucher) = env
        .call("GET", &format!("/v1/vouchers/{}", urlencode(code)), None)
        .await;
    let (status, _, png) = fetch(&env.app, &path_of(&voucher["assets"]["qr"]["url"])).await;
    assert_eq!(status, StatusCode::OK);
    let (width, height, pixels) = decode_png(&png);
    assert_eq!(read_qr(width, height, &pixels), code);
    let barcode = fetch_error(&env, &path_of(&voucher["assets"]["barcode"]["url"])).await;
    check_error(&barcode, StatusCode::UNPROCESSABLE_ENTITY, "invalid_code");
}

/// `token` with its decoded bytes changed by `change`.
fn retoken(token: &str, change: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
    change(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn forged_swapped_foreign_and_dead_tokens_are_not_found() {
    let env = env();
    create(&env, spec("ALPHA", amount_off(500), None));
    let (_, alpha) = env.call("GET", "/v1/vouchers/ALPHA", None).await;
    let qr = alpha["assets"]["qr"]["id"].as_str().unwrap().to_owned();
    let barcode = alpha["assets"]["barcode"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ok = |path: String| {
        let env = &env;
        async move { fetch(&env.app, &path).await.0 }
    };
    assert_eq!(ok(format!("/v1/assets/qr/{qr}")).await, StatusCode::OK);

    let mut forged = Vec::new();
    // One character flipped, everywhere along the token.
    for at in [0, 5, 12, 20, qr.len() / 2, qr.len() - 1] {
        let mut chars: Vec<char> = qr.chars().collect();
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        forged.push(format!(
            "/v1/assets/qr/{}",
            chars.into_iter().collect::<String>()
        ));
    }
    // A QR token on the barcode route and back.
    forged.push(format!("/v1/assets/barcode/{qr}"));
    forged.push(format!("/v1/assets/qr/{barcode}"));
    // Truncated, lengthened, empty-ish, not base64.
    forged.push(format!("/v1/assets/qr/{}", &qr[..qr.len() - 4]));
    forged.push(format!("/v1/assets/qr/{qr}AAAA"));
    forged.push("/v1/assets/qr/AAAA".to_owned());
    forged.push("/v1/assets/qr/%2A%2A%2A".to_owned());
    forged.push(format!("/v1/assets/qr/{}", "A".repeat(5000)));

    // Another project's voucher: its own token works, but spliced with
    // this project's parts it does not.
    let (other, other_keys) = env.add_project("other");
    env.store
        .create_voucher(other, &spec("ALPHA", amount_off(500), None), env.now())
        .unwrap();
    let (_, theirs) = env
        .call_as(&other_keys, "GET", "/v1/vouchers/ALPHA", None)
        .await;
    let their_qr = theirs["assets"]["qr"]["id"].as_str().unwrap().to_owned();
    assert_ne!(their_qr, qr);
    assert_eq!(
        ok(format!("/v1/assets/qr/{their_qr}")).await,
        StatusCode::OK
    );
    let ours = URL_SAFE_NO_PAD.decode(&qr).unwrap();
    // Their project id on our MAC and voucher id.
    forged.push(format!(
        "/v1/assets/qr/{}",
        retoken(&their_qr, |b| b[8..].copy_from_slice(&ours[8..]))
    ));
    // Our project id on their MAC and voucher id.
    forged.push(format!(
        "/v1/assets/qr/{}",
        retoken(&their_qr, |b| b[..8].copy_from_slice(&ours[..8]))
    ));
    // Their MAC on our voucher id.
    forged.push(format!(
        "/v1/assets/qr/{}",
        retoken(&qr, |b| {
            let theirs = URL_SAFE_NO_PAD.decode(&their_qr).unwrap();
            b[8..24].copy_from_slice(&theirs[8..24]);
        })
    ));
    // A project that does not exist.
    forged.push(format!(
        "/v1/assets/qr/{}",
        retoken(&qr, |b| b[..8].copy_from_slice(&999i64.to_be_bytes()))
    ));

    for path in &forged {
        let answer = fetch_error(&env, path).await;
        check_error(&answer, StatusCode::NOT_FOUND, "not_found");
        assert!(answer.1["request_id"].is_string(), "{}", answer.1);
    }

    // A deleted voucher's tokens die, and stay dead when its code is made
    // again (the new voucher has new ones).
    let (status, _) = env.call("DELETE", "/v1/vouchers/ALPHA", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for path in [
        format!("/v1/assets/qr/{qr}"),
        format!("/v1/assets/barcode/{barcode}?format=svg"),
    ] {
        check_error(
            &fetch_error(&env, &path).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    create(&env, spec("ALPHA", amount_off(500), None));
    let (_, again) = env.call("GET", "/v1/vouchers/ALPHA", None).await;
    assert_ne!(again["assets"]["qr"]["id"], json!(qr));
    check_error(
        &fetch_error(&env, &format!("/v1/assets/qr/{qr}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    check_images(&env, &again, "ALPHA").await;
    // The other project's voucher was never touched.
    assert_eq!(
        ok(format!("/v1/assets/qr/{their_qr}")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unknown_format_is_a_bad_request() {
    let env = env();
    create(&env, spec("BETA", amount_off(500), None));
    let (_, beta) = env.call("GET", "/v1/vouchers/BETA", None).await;
    let qr = path_of(&beta["assets"]["qr"]["url"]);
    for query in ["format=gif", "format=", "format=png%00"] {
        let answer = fetch_error(&env, &format!("{qr}?{query}")).await;
        check_error(&answer, StatusCode::BAD_REQUEST, "invalid_query_params");
    }
    let (status, _, _) = fetch(&env.app, &format!("{qr}?format=SVG")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn vouchers_in_redemptions_and_publications_carry_the_same_assets() {
    let env = env();
    create(&env, spec("GAMMA", amount_off(500), None));
    let (_, gamma) = env.call("GET", "/v1/vouchers/GAMMA", None).await;
    let (status, redemption) = env
        .call(
            "POST",
            "/v1/vouchers/GAMMA/redemption",
            Some(json!({"order": {"amount": 4000}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{redemption}");
    assert_eq!(redemption["voucher"]["assets"], gamma["assets"]);
    let (_, listed) = env.call("GET", "/v1/redemptions", None).await;
    assert_eq!(
        listed["redemptions"][0]["voucher"]["assets"],
        gamma["assets"]
    );
    let (status, publication) = env
        .call(
            "POST",
            "/v1/publications",
            Some(json!({"voucher": "GAMMA", "customer": {"source_id": "tom"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{publication}");
    assert_eq!(publication["voucher"]["assets"], gamma["assets"]);
}

#[tokio::test]
async fn without_a_public_url_the_links_are_paths() {
    let env = Env::new();
    create(&env, spec("DELTA", amount_off(500), None));
    let (_, delta) = env.call("GET", "/v1/vouchers/DELTA", None).await;
    let url = delta["assets"]["qr"]["url"].as_str().unwrap();
    assert!(url.starts_with("/v1/assets/qr/"), "{url}");
    let (status, _, png) = fetch(&env.app, url).await;
    assert_eq!(status, StatusCode::OK);
    let (width, height, pixels) = decode_png(&png);
    assert_eq!(read_qr(width, height, &pixels), "DELTA");
}
