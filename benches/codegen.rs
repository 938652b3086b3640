//! Code generation speed: how fast `voucher-core` makes unique voucher codes,
//! the uniqueness check included (`cargo bench --bench codegen`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use voucher_core::code_pattern::{Code, CodeConfig, CodeConfigError, CodePattern};

const CODES: u64 = 1_000_000;
const CHUNK: u64 = 10_000;

fn codegen(c: &mut Criterion) {
    let default = CodePattern::new(&CodeConfig::default()).expect("the default config is valid");
    let prefixed = CodePattern::new(&CodeConfig {
        prefix: Some("SUMMER-".to_owned()),
        pattern: Some("####-####".to_owned()),
        charset: Some("ABCDEFGHJKLMNPQRSTUVWXYZ23456789".to_owned()),
        ..CodeConfig::default()
    })
    .expect("a valid config");

    let mut group = c.benchmark_group("codegen");
    group.throughput(Throughput::Elements(CODES));
    group.sample_size(20);

    // The target: 1M unique 8-character codes from 0-9a-zA-Z in one call,
    // freeing them included.
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    group.bench_function("generate 1M unique 8-char codes", |b| {
        b.iter(|| {
            default
                .generate(&mut rng, CODES, |_| false)
                .expect("room for 1M codes")
        })
    });

    // What a store does: chunks of 10k into a reused buffer. `existing` is
    // free here; in the store it is a lookup in the table the earlier chunks
    // went into, and that lookup is the store's cost.
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut buffer: Vec<Code> = Vec::new();
    group.bench_function("generate_into 1M in chunks of 10k", |b| {
        b.iter(|| {
            for _ in 0..CODES / CHUNK {
                buffer.clear();
                default
                    .generate_into(&mut rng, CHUNK, &mut buffer, |_| {
                        Ok::<_, CodeConfigError>(false)
                    })
                    .expect("room for the chunk");
            }
        })
    });

    let mut rng = ChaCha8Rng::seed_from_u64(3);
    group.bench_function("generate 1M unique SUMMER-####-#### codes", |b| {
        b.iter(|| {
            prefixed
                .generate(&mut rng, CODES, |_| false)
                .expect("room for 1M codes")
        })
    });
    group.finish();
}

criterion_group!(benches, codegen);
criterion_main!(benches);
