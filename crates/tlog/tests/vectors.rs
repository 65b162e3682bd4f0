//! The transparency-dev/merkle RFC 6962 test vectors from `../shared/reference/testdata/rfc6962`.
//! The vectors are not copied into this repository; when the directory is absent this test fails
//! and says where it looked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_tlog::proof::{verify_consistency, verify_inclusion};
use hallmark_tlog::tree::{MemoryHashes, root_at};
use hallmark_tlog::{Hash, leaf_hash};
use serde::Deserialize;

fn vectors_dir() -> PathBuf {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/testdata/rfc6962");
    assert!(
        dir.is_dir(),
        "RFC 6962 test vectors not found at {} (they live in ../shared beside the repository)",
        dir.display()
    );
    dir
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

fn b64(s: &str) -> Vec<u8> {
    // Some probes carry deliberately odd values; undecodable base64 stands for "garbage bytes".
    STANDARD.decode(s).unwrap_or_else(|_| s.as_bytes().to_vec())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Inclusion {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Consistency {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    want_err: bool,
}

#[test]
fn inclusion_probes() {
    let mut files = Vec::new();
    json_files(&vectors_dir().join("inclusion"), &mut files);
    assert!(
        files.len() > 50,
        "only {} inclusion probes found",
        files.len()
    );
    for f in &files {
        let v: Inclusion = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let proof: Vec<Vec<u8>> = v.proof.unwrap_or_default().iter().map(|p| b64(p)).collect();
        let got = verify_inclusion(
            v.leaf_idx,
            v.tree_size,
            &b64(&v.leaf_hash),
            &proof,
            &b64(&v.root),
        );
        assert_eq!(got.is_err(), v.want_err, "{}: {got:?}", f.display());
    }
}

#[test]
fn consistency_probes() {
    let mut files = Vec::new();
    json_files(&vectors_dir().join("consistency"), &mut files);
    assert!(
        files.len() > 50,
        "only {} consistency probes found",
        files.len()
    );
    for f in &files {
        let v: Consistency = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let proof: Vec<Vec<u8>> = v.proof.unwrap_or_default().iter().map(|p| b64(p)).collect();
        let got = verify_consistency(v.size1, v.size2, &b64(&v.root1), &b64(&v.root2), &proof);
        assert_eq!(got.is_err(), v.want_err, "{}: {got:?}", f.display());
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Trees {
    leaf_inputs_hex: Vec<String>,
    root_hashes_hex: Vec<String>,
}

#[test]
fn roots_of_reference_trees() {
    let t: Trees =
        serde_json::from_slice(&std::fs::read(vectors_dir().join("trees.json")).unwrap()).unwrap();
    let mut m = MemoryHashes::new();
    assert_eq!(m.root(), Hash::from_hex(&t.root_hashes_hex[0]).unwrap());
    for (i, leaf) in t.leaf_inputs_hex.iter().enumerate() {
        m.append(leaf_hash(&hex::decode(leaf).unwrap()));
        let want = Hash::from_hex(&t.root_hashes_hex[i + 1]).unwrap();
        assert_eq!(m.root(), want, "size {}", i + 1);
        assert_eq!(root_at(m.size(), &m).unwrap(), want);
    }
    assert_eq!(t.leaf_inputs_hex.len() + 1, t.root_hashes_hex.len());
}
