//! serde values logged through `tapelog::serde` decode, from the segment alone (shapes and
//! bincode bytes, none of this test's types), to exactly what `format!("{:?}")`,
//! `format!("{:#?}")` and `serde_json::to_value` make of them.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use common::*;
use serde::Serialize;
use tapelog::serde_arg::Shapes;
use tapelog::text::{Template, Value};
use tapelog::wire::kinds::decode_arg_with;
use tapelog::wire::reader::{Entry, EntryReader};
use tapelog::wire::record::{record_head, CallsiteEntry};
use tapelog::wire::ArgKind;

/// One decoded record: format string, rendered text, and its serde arguments as JSON.
#[derive(Debug)]
struct Rec {
    format: String,
    text: String,
    json: Vec<serde_json::Value>,
}

/// Reads one segment on its own, as a reader without the program's types does.
fn read_segment(path: &Path) -> (Vec<Rec>, usize) {
    let mut r = EntryReader::open(std::fs::File::open(path).unwrap()).unwrap();
    let mut sites: HashMap<u32, (Vec<u8>, String)> = HashMap::new();
    let mut shapes = Shapes::new();
    let mut nshapes = 0;
    let mut out = Vec::new();
    while let Some((_, e)) = r.next_entry().unwrap() {
        match e {
            Entry::Callsite(CallsiteEntry { id, kinds, format, .. }) => {
                sites.insert(id, (kinds.to_vec(), format.to_string()));
            }
            Entry::Shape(s) => {
                shapes.insert(s.id, s.shape().unwrap());
                nshapes += 1;
            }
            Entry::Batch(_, mut recs) => {
                while !recs.is_empty() {
                    let (id, _) = record_head(recs).unwrap();
                    let (kinds, format) = sites.get(&id).expect("call site precedes its records");
                    let mut at = tapelog::wire::RECORD_HEADER_LEN;
                    let mut vals = Vec::new();
                    for &k in kinds {
                        let (v, n) = decode_arg_with(ArgKind(k), &recs[at..], &shapes).expect("decodes");
                        vals.push(v);
                        at += n;
                    }
                    let mut text = String::new();
                    Template::parse(format).unwrap().render(&vals, &mut text).unwrap();
                    let json = vals
                        .iter()
                        .filter_map(|v| if let Value::Structured(s) = v { Some(s.to_json()) } else { None })
                        .collect();
                    out.push(Rec { format: format.clone(), text, json });
                    recs = &recs[at..];
                }
            }
            _ => {}
        }
    }
    (out, nshapes)
}

fn read_all(dir: &Path) -> (Vec<Rec>, usize) {
    let mut recs = Vec::new();
    let mut shapes = 0;
    for (path, _) in tapelog::list_segments(dir) {
        let (r, n) = read_segment(&path);
        recs.extend(r);
        shapes += n;
    }
    (recs, shapes)
}

#[derive(Serialize, Debug, Clone)]
enum Side {
    Buy,
    Sell,
}

#[derive(Serialize, Debug, Clone)]
enum Event {
    Unit,
    Newtype(u16),
    Tuple(i8, String),
    Struct { id: u64, tags: Vec<char> },
}

#[derive(Serialize, Debug, Clone)]
struct Px(f64);

#[derive(Serialize, Debug, Clone)]
struct Pair(i32, bool);

#[derive(Serialize, Debug, Clone)]
struct Marker;

#[derive(Serialize, Debug, Clone)]
struct Leg {
    venue: &'static str,
    qty: u32,
}

#[derive(Serialize, Debug, Clone)]
struct Order {
    id: u64,
    side: Side,
    px: Px,
    limit: Option<f32>,
    stop: Option<Px>,
    legs: Vec<Leg>,
    empty: Vec<Leg>,
    events: Vec<Event>,
    by_venue: BTreeMap<String, Option<u8>>,
    pair: Pair,
    marker: Marker,
    tuple: (u8, i128, u128, char),
    note: String,
    unit: (),
    flags: Vec<Option<bool>>,
    small: (i16, u16, i32, isize, usize),
}

fn order(i: u64) -> Order {
    Order {
        id: i,
        side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
        px: Px(101.25 + i as f64),
        limit: Some(0.1),
        stop: None,
        legs: vec![Leg { venue: "XNAS", qty: 100 }, Leg { venue: "a \"quoted\"\n venue", qty: 7 }],
        empty: Vec::new(),
        events: vec![
            Event::Unit,
            Event::Newtype(65535),
            Event::Tuple(-3, "t".into()),
            Event::Struct { id: 9, tags: vec!['x', '\''] },
        ],
        by_venue: [("XNAS".to_string(), Some(3)), ("ARCA".to_string(), None)].into_iter().collect(),
        pair: Pair(-1, true),
        marker: Marker,
        tuple: (255, -5, 7, 'é'),
        note: "tab\there, unicode ✓".into(),
        unit: (),
        flags: vec![Some(true), None, Some(false)],
        small: (-7, 7, i32::MIN, -1, usize::MAX),
    }
}

#[test]
fn nested_structs_enums_options_and_vecs_decode_like_debug_and_json() {
    let _s = serial();
    let dir = TempDir::new("serde-round-trip");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    let values: Vec<Order> = (0..3).map(order).collect();
    for o in &values {
        tapelog::info!("order {:?}", tapelog::serde(o));
        tapelog::info!("pretty {:#?} then {}", tapelog::serde(o), o.id);
        tapelog::info!(order = tapelog::serde(o); "as a field {}", "x");
    }
    let scalars = (1.5f64, f32::MIN_POSITIVE, -0.0f64, 1e21f64, f64::NAN, "s", Some(Some(1u8)), [1u8, 2]);
    tapelog::info!("scalars {:?}", tapelog::serde(&scalars));
    tapelog::info!("display {}", tapelog::serde(&Side::Sell));
    // Beyond what serde_json holds: text only.
    let wide = (i128::MIN, u128::MAX);
    tapelog::info!("wide {:?} {:x?}", tapelog::serde(&wide), tapelog::serde(&wide));
    drop(guard);

    let (recs, _) = read_all(dir.path());
    let plain: Vec<_> = recs.iter().filter(|r| r.format == "order {:?}").collect();
    let pretty: Vec<_> = recs.iter().filter(|r| r.format == "pretty {:#?} then {}").collect();
    let field: Vec<_> = recs.iter().filter(|r| r.format == "as a field {}").collect();
    assert_eq!((plain.len(), pretty.len(), field.len()), (3, 3, 3));
    for (i, o) in values.iter().enumerate() {
        assert_eq!(plain[i].text, format!("order {o:?}"));
        assert_eq!(pretty[i].text, format!("pretty {o:#?} then {}", o.id));
        let want = serde_json::to_value(o).unwrap();
        assert_eq!(plain[i].json, std::slice::from_ref(&want));
        assert_eq!(field[i].json, [want]);
    }
    let s = recs.iter().find(|r| r.format == "scalars {:?}").unwrap();
    // serde has no arrays: `[u8; 2]` serializes as a tuple, so it reads back as one.
    let as_tuple = (1.5f64, f32::MIN_POSITIVE, -0.0f64, 1e21f64, f64::NAN, "s", Some(Some(1u8)), (1u8, 2u8));
    assert_eq!(s.text, format!("scalars {as_tuple:?}"));
    assert_eq!(s.json, [serde_json::to_value(scalars).unwrap()]);
    let w = recs.iter().find(|r| r.format == "wide {:?} {:x?}").unwrap();
    assert_eq!(w.text, format!("wide {wide:?} {wide:x?}"));
    let d = recs.iter().find(|r| r.format == "display {}").unwrap();
    assert_eq!(d.text, "display Sell");
}

#[test]
fn each_shape_logged_at_one_call_site_gets_its_own_descriptor() {
    let _s = serial();
    let dir = TempDir::new("serde-shapes");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    let events = [
        Event::Struct { id: 1, tags: vec![] },
        Event::Tuple(2, "two".into()),
        Event::Struct { id: 3, tags: vec!['c'] },
        Event::Unit,
    ];
    for e in &events {
        tapelog::info!("event {:?}", tapelog::serde(e));
    }
    let vecs: [Vec<Option<u32>>; 4] = [vec![], vec![None], vec![Some(1), None], vec![]];
    for v in &vecs {
        tapelog::info!("vec {:?}", tapelog::serde(v));
    }
    drop(guard);

    let (recs, nshapes) = read_all(dir.path());
    let got: Vec<_> = recs.iter().filter(|r| r.format == "event {:?}").map(|r| r.text.clone()).collect();
    let want: Vec<_> = events.iter().map(|e| format!("event {e:?}")).collect();
    assert_eq!(got, want);
    let got: Vec<_> =
        recs.iter().filter(|r| r.format == "vec {:?}").map(|r| (r.text.clone(), r.json.clone())).collect();
    let want: Vec<_> = vecs.iter().map(|v| (format!("vec {v:?}"), vec![serde_json::to_value(v).unwrap()])).collect();
    assert_eq!(got, want);
    // Struct with an empty and with a non-empty Vec, Tuple, Unit; [], [None], [Some, None].
    assert_eq!(nshapes, 7, "one SHAPE entry per distinct shape in the segment");
}

#[test]
fn every_segment_carries_the_shapes_its_records_use() {
    let _s = serial();
    let dir = TempDir::new("serde-rotation");
    let guard = tapelog::Builder::new()
        .no_capacity_warning()
        .dir(dir.path())
        .ring_capacity(16 << 10)
        .segment_size(256 << 10)
        .overflow(tapelog::Overflow::Block)
        .start()
        .unwrap();
    let n = if cfg!(miri) { 50 } else { 20_000u64 };
    for i in 0..n {
        tapelog::info!("order {:?}", tapelog::serde(&order(i)));
    }
    drop(guard);
    let segments = tapelog::list_segments(dir.path());
    assert!(segments.len() > 2, "the test needs rotation: {} segments", segments.len());
    let mut total = 0;
    for (path, _) in segments {
        // Each segment alone: read_segment panics on a record whose shape it lacks.
        let (recs, nshapes) = read_segment(&path);
        assert!(recs.is_empty() || nshapes >= 1);
        for r in &recs {
            let id: u64 = r.json[0]["id"].as_u64().unwrap();
            assert_eq!(r.text, format!("order {:?}", order(id)));
        }
        total += recs.len() as u64;
    }
    assert_eq!(total, n);
}

/// A `Serialize` impl that logs, including another serde value, while being serialized.
struct Chatty(u32);

impl Serialize for Chatty {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        tapelog::info!("inside serialize {}", self.0);
        tapelog::info!("nested serde {:?}", tapelog::serde(&Leg { venue: "N", qty: self.0 }));
        s.serialize_newtype_struct("Chatty", &self.0)
    }
}

/// A `Serialize` impl that fails.
struct Broken;

impl Serialize for Broken {
    fn serialize<S: serde::Serializer>(&self, _s: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("no thanks"))
    }
}

#[test]
fn serialize_impls_that_log_or_fail_corrupt_nothing() {
    let _s = serial();
    let dir = TempDir::new("serde-reentrant");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    for i in 0..100u32 {
        tapelog::info!("two chatty {:?} {:?} and {}", tapelog::serde(&Chatty(i)), tapelog::serde(&Chatty(i + 1)), i);
    }
    tapelog::info!("broken {:?} then {}", tapelog::serde(&Broken), 5u8);
    drop(guard);
    let (recs, _) = read_all(dir.path());
    let outer: Vec<_> = recs.iter().filter(|r| r.format.starts_with("two chatty")).map(|r| r.text.clone()).collect();
    let want: Vec<_> = (0..100u32).map(|i| format!("two chatty Chatty({i}) Chatty({}) and {i}", i + 1)).collect();
    assert_eq!(outer, want);
    // Each outer call serializes each Chatty twice (fingerprint and encoding) and once more
    // the first time its shape is seen.
    let inner = recs.iter().filter(|r| r.format == "inside serialize {}").count();
    let nested: Vec<_> = recs.iter().filter(|r| r.format == "nested serde {:?}").collect();
    assert!(inner >= 400, "{inner}");
    assert_eq!(nested.len(), inner);
    for r in nested {
        assert!(r.text.starts_with("nested serde Leg { venue: \"N\", qty: "), "{}", r.text);
    }
    let b = recs.iter().find(|r| r.format.starts_with("broken")).unwrap();
    assert_eq!(b.text, "broken <unserializable: no thanks> then 5");
}
