;; The byte scanner of record-splitter.ts: finds where each record of a CloudTrail
;; `{"Records":[...]}` document starts and ends, tracking nesting depth, strings and escapes.
;; `scripts/build-wasm.mjs` compiles this file to record-scan-wasm.ts (base64); a test
;; checks that the committed bytes are this file's.
;;
;; Why WebAssembly: in JavaScript the scan cost about 4 µs per 650-byte record, most of a
;; slice's CPU (issue 17). Here a 16-byte block without a backslash is classified at once
;; with SIMD: a prefix XOR of its quote bits marks the bytes inside strings, and only the
;; braces and brackets outside strings are visited, one by one. A block holding a
;; backslash, a pending escape, a record boundary (depth 0) or the window's tail goes byte
;; by byte. A backslash is only legal inside a string in JSON, so the blocks it excludes
;; from the fast path are exactly those where quotes could be escaped.
;;
;; Memory: pairs of i32 (record start, end) from byte 0, at most 16384 of them; the input
;; window from byte 131072, at most 1 MiB (18 pages in all). Offsets are window offsets.
;; State lives in exported globals between calls, so the caller can save and restore it
;; per splitter:
;;   depth  nesting depth (0 = between records)
;;   instr  1 inside a string
;;   esc    1 when the next byte is escaped (a backslash ended the previous window)
;;   open   start of the record still open, when it started in this window; else -1
;;   nout   pairs written (the caller resets it to 0 before each call)
;;   pos    where scanning stopped
;; scan(from, to) scans window bytes [from, to) and returns
;;   0  all scanned
;;   1  the pair area is full: read the pairs, reset nout, call again from pos
;;   2  a `]` at depth 0 closed the Records array; pos is just after it
;;   3  an unexpected byte between records, at pos (a quote, `[`, `}` or anything but
;;      whitespace and commas)
(module
  (memory (export "memory") 18)
  (global $depth (export "depth") (mut i32) (i32.const 0))
  (global $instr (export "instr") (mut i32) (i32.const 0))
  (global $esc (export "esc") (mut i32) (i32.const 0))
  (global $open (export "open") (mut i32) (i32.const -1))
  (global $nout (export "nout") (mut i32) (i32.const 0))
  (global $pos (export "pos") (mut i32) (i32.const 0))
  (func (export "scan") (param $i i32) (param $n i32) (result i32)
    (local $c i32) (local $d i32) (local $s i32) (local $e i32) (local $o i32) (local $k i32) (local $r i32)
    (local $lim i32) (local $v v128) (local $x i32) (local $sm i32) (local $q i32)
    (local.set $d (global.get $depth))
    (local.set $s (global.get $instr))
    (local.set $e (global.get $esc))
    (local.set $o (global.get $open))
    (local.set $k (global.get $nout))
    (local.set $r
      (block $exit (result i32)
        (loop $dispatch
          (if (i32.ge_u (local.get $i) (local.get $n)) (then (br $exit (i32.const 0))))
          (local.set $lim (i32.add (local.get $i) (i32.const 16)))
          ;; the fast path: a whole 16-byte block inside a record, with no backslash
          (block $bytewise
            (br_if $bytewise (i32.gt_u (local.get $lim) (local.get $n)))
            (br_if $bytewise (i32.eqz (local.get $d)))
            (br_if $bytewise (local.get $e))
            (local.set $v (v128.load offset=131072 (local.get $i)))
            (br_if $bytewise (i8x16.bitmask (i8x16.eq (local.get $v) (i8x16.splat (i32.const 92)))))
            ;; bit j of x: byte j is inside a string (an opening quote counts as inside, a
            ;; closing one as outside)
            (local.set $x (i8x16.bitmask (i8x16.eq (local.get $v) (i8x16.splat (i32.const 34)))))
            (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 1))))
            (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 2))))
            (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 4))))
            (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 8))))
            (if (local.get $s) (then (local.set $x (i32.xor (local.get $x) (i32.const 0xffff)))))
            (local.set $s (i32.and (i32.shr_u (local.get $x) (i32.const 15)) (i32.const 1)))
            ;; braces and brackets outside strings
            (local.set $sm (i32.and
              (i8x16.bitmask (v128.or
                (v128.or (i8x16.eq (local.get $v) (i8x16.splat (i32.const 123))) (i8x16.eq (local.get $v) (i8x16.splat (i32.const 125))))
                (v128.or (i8x16.eq (local.get $v) (i8x16.splat (i32.const 91))) (i8x16.eq (local.get $v) (i8x16.splat (i32.const 93))))))
              (i32.xor (local.get $x) (i32.const 0xffff))))
            (block $blockDone
              (loop $bits
                (br_if $blockDone (i32.eqz (local.get $sm)))
                (local.set $q (i32.add (local.get $i) (i32.ctz (local.get $sm))))
                (local.set $sm (i32.and (local.get $sm) (i32.sub (local.get $sm) (i32.const 1))))
                (local.set $c (i32.load8_u offset=131072 (local.get $q)))
                (if (i32.or (i32.eq (local.get $c) (i32.const 123)) (i32.eq (local.get $c) (i32.const 91)))
                  (then (local.set $d (i32.add (local.get $d) (i32.const 1))) (br $bits)))
                (local.set $d (i32.sub (local.get $d) (i32.const 1)))
                (br_if $bits (local.get $d))
                ;; the record closes at q: list it, then the rest of the block byte by byte
                ;; (between records, outside any string)
                (local.set $q (i32.add (local.get $q) (i32.const 1)))
                (i32.store (i32.shl (local.get $k) (i32.const 3)) (local.get $o))
                (i32.store offset=4 (i32.shl (local.get $k) (i32.const 3)) (local.get $q))
                (local.set $o (i32.const -1))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (local.set $s (i32.const 0))
                (local.set $i (local.get $q))
                (if (i32.ge_u (local.get $k) (i32.const 16384)) (then (br $exit (i32.const 1))))
                (br $bytewise)))
            (local.set $i (local.get $lim))
            (br $dispatch))
          ;; byte by byte up to lim (the block's end, or the window's)
          (if (i32.gt_u (local.get $lim) (local.get $n)) (then (local.set $lim (local.get $n))))
          (loop $byte
            (if (i32.ge_u (local.get $i) (local.get $lim)) (then (br $dispatch)))
            (local.set $c (i32.load8_u offset=131072 (local.get $i)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (if (local.get $s)
              (then
                (if (local.get $e) (then (local.set $e (i32.const 0)) (br $byte)))
                (if (i32.eq (local.get $c) (i32.const 92)) (then (local.set $e (i32.const 1)) (br $byte)))
                (if (i32.eq (local.get $c) (i32.const 34)) (then (local.set $s (i32.const 0))))
                (br $byte)))
            ;; a quote opens a string, inside a record only
            (if (i32.eq (local.get $c) (i32.const 34))
              (then
                (if (i32.eqz (local.get $d)) (then (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br $exit (i32.const 3))))
                (local.set $s (i32.const 1))
                (br $byte)))
            ;; { or [: a record starts at depth 0, and only with {
            (if (i32.or (i32.eq (local.get $c) (i32.const 123)) (i32.eq (local.get $c) (i32.const 91)))
              (then
                (if (i32.eqz (local.get $d))
                  (then
                    (if (i32.eq (local.get $c) (i32.const 91)) (then (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br $exit (i32.const 3))))
                    (local.set $o (i32.sub (local.get $i) (i32.const 1)))))
                (local.set $d (i32.add (local.get $d) (i32.const 1)))
                (br $byte)))
            ;; } or ]: at depth 0, ] closes the Records array; a record closes at depth 1
            (if (i32.or (i32.eq (local.get $c) (i32.const 125)) (i32.eq (local.get $c) (i32.const 93)))
              (then
                (if (i32.eqz (local.get $d))
                  (then
                    (if (i32.eq (local.get $c) (i32.const 93)) (then (br $exit (i32.const 2))))
                    (local.set $i (i32.sub (local.get $i) (i32.const 1)))
                    (br $exit (i32.const 3))))
                (local.set $d (i32.sub (local.get $d) (i32.const 1)))
                (if (i32.eqz (local.get $d))
                  (then
                    (i32.store (i32.shl (local.get $k) (i32.const 3)) (local.get $o))
                    (i32.store offset=4 (i32.shl (local.get $k) (i32.const 3)) (local.get $i))
                    (local.set $o (i32.const -1))
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (if (i32.ge_u (local.get $k) (i32.const 16384)) (then (br $exit (i32.const 1))))))
                (br $byte)))
            ;; between records: commas and whitespace only
            (if (i32.eqz (local.get $d))
              (then
                (if (i32.eqz (i32.or
                      (i32.or (i32.eq (local.get $c) (i32.const 44)) (i32.eq (local.get $c) (i32.const 32)))
                      (i32.or (i32.or (i32.eq (local.get $c) (i32.const 10)) (i32.eq (local.get $c) (i32.const 13))) (i32.eq (local.get $c) (i32.const 9)))))
                  (then (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br $exit (i32.const 3))))))
            (br $byte))
          (br $dispatch))
        (i32.const 0)))
    (global.set $depth (local.get $d))
    (global.set $instr (local.get $s))
    (global.set $esc (local.get $e))
    (global.set $open (local.get $o))
    (global.set $nout (local.get $k))
    (global.set $pos (local.get $i))
    (local.get $r)))
