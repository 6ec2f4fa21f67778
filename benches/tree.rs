//! Resolving a web path and checking read permission, at depth 5 in a tree of 111,110 assets
//! (ten children per folder, five levels), against a bare primary-key lookup of one asset in
//! the same database as the baseline. The target: under 50 µs per resolve-and-check.
//!
//! Run: `cargo bench --bench tree`

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use tessera::assets::{self, LinkType, ROOT_ID, Status};
use tessera::perms::{self, Grant, Perm, Subject};
use tessera::store::{self, Store, assets::NewAsset};
use tessera::users::{Actor, Level};

const FANOUT: usize = 10;
const DEPTH: usize = 5;

fn build(store: &mut Store) -> i64 {
    store
        .write(|tx| {
            assets::create_top_folders(tx)?;
            let user = store::users::insert(tx, "reader", Level::User, "unused")?;
            let mut level = vec![ROOT_ID];
            for depth in 0..DEPTH {
                let mut next = Vec::with_capacity(level.len() * FANOUT);
                for &parent in &level {
                    for i in 0..FANOUT {
                        let segment = format!("d{depth}-{i}");
                        let id = store::assets::insert(
                            tx,
                            &NewAsset {
                                type_code: "folder",
                                type_version: None,
                                name: &segment,
                                parent_id: Some(parent),
                                segment: &segment,
                                link_type: LinkType::Menu,
                                status: Status::Live,
                                created_by: None,
                            },
                        )?;
                        // Every asset carries the grants a real tree would: copied from its
                        // parent, plus one for a user.
                        store::grants::set(
                            tx,
                            id,
                            &Grant {
                                subject: Subject::AllUsers,
                                perm: Perm::Read,
                                deny: false,
                            },
                        )?;
                        store::grants::set(
                            tx,
                            id,
                            &Grant {
                                subject: Subject::User(user),
                                perm: Perm::Write,
                                deny: false,
                            },
                        )?;
                        next.push(id);
                    }
                }
                level = next;
            }
            Ok::<_, tessera::error::Error>(user)
        })
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(&dir.path().join("tessera.db")).unwrap();
    let user = build(&mut store);
    let conn = store.conn();
    let count: usize = store::assets::all(conn).unwrap().len();
    assert_eq!(
        count,
        2 + (1..=DEPTH).map(|d| FANOUT.pow(d as u32)).sum::<usize>()
    );
    let actor = Actor::user(store::users::by_id(conn, user).unwrap().unwrap());
    let path = "/d0-3/d1-7/d2-1/d3-9/d4-4";
    let leaf = assets::resolve_path(conn, path).unwrap().unwrap();

    let mut group = c.benchmark_group(format!("{count} assets"));
    group.bench_function("baseline: one asset by id", |b| {
        b.iter(|| store::assets::get(conn, black_box(leaf)).unwrap().unwrap())
    });
    group.bench_function("resolve depth-5 path + read check", |b| {
        b.iter(|| {
            let id = assets::resolve_path(conn, black_box(path))
                .unwrap()
                .unwrap();
            assert!(perms::has(conn, &actor, id, Perm::Read).unwrap());
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
