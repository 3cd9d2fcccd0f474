"""Write-ahead journal: what the collector received survives a ``kill -9`` between two flushes.

Format
------
A journal is a folder of *segments* ``CID-NNNNNNNNNNNNNNNNNNNN.wal`` (``CID`` = collector id, ``N``
= segment number, zero-padded), plus ``CID.spare`` (the next segment, made ready ahead; never
read) and ``CID.lock``. A segment starts with the 8-byte magic :data:`MAGIC` (``KCJRNL2\\n``),
then frames, then (when preallocated) zeros up to its allocated size::

    <4-byte marker C1 C1 4B 46> <u32 CRC-32 of length+payload> <u32 payload length> <payload> <0A>

all integers little-endian. The payload is msgpack (msgspec) of ``[[table, [row, row, ...]], ...]``:
one frame per :meth:`JournalWriter.append` call, i.e. per ``sync``, covering every table at once,
so a torn write tears at most one frame and never leaves half a sync looking complete. A batch
named ``TABLE@arrow`` holds whole Arrow tables instead of rows, each one Arrow IPC stream as a
msgpack bin (``LiveStore.append_table``; ``storage/arrowtables.py`` reads and writes them).

Reading (``scan.py``) takes *every* intact frame: one whose marker, length bound (the frame fits in
the data), end byte and checksum all check out. After damage it resynchronises on the next marker
that starts an intact frame, so damage costs only the frames it hit, and a damaged header hides
nothing (the frames behind it are found the same way). It reports exactly what it skipped:
a damaged header, damaged bytes between intact frames, damaged bytes after the last one, or a
*torn tail*: the beginning of one more frame that the data ends inside of, which is what a write
cut short by a crash leaves, never acknowledged, and the only skipped bytes called "never synced".
The zeros after the last non-zero byte are preallocated free space: the end of the data (every
frame ends in ``0A``, so a whole frame never ends in a zero). Each segment is read on its own.

Segments written by earlier releases (``KCJRNL1\\n``, frames ``<u32 length> <u32 CRC of payload>
<payload>``, no marker, never preallocated) are still read, resynchronising by trying each offset.

Segment numbers only grow, across restarts too: a new segment gets
``max(newest number on disk + 1, now in microseconds)``, and the store never deletes the newest
segment before a newer one exists (a clean close keeps the current segment, trimmed to its data).
Part files carry the number of the segment they were cut at (``part-CID-FIRST-LAST-N.parquet``),
and everything below depends on "a bigger N is later".

Space reserved (``reserve.py``)
-------------------------------
A segment is created with ``fallocate`` to :attr:`JournalOptions.segment_bytes` (64 MiB), so
frames are written into blocks the filesystem has already given us, and synced with
``fdatasync`` (nothing but data changes). A frame that does not fit in what is left of the current
segment rotates to the next one first (a frame bigger than a whole segment gets an empty segment
of its own, which grows). One *spare* segment is kept ready ahead (created, header written,
allocated, synced, under ``CID.spare``), so a rotation, whether at a flush or because a segment is
full, is a ``rename`` and never needs fresh disk space; a new spare is made right after, and
again after every rotation or retirement until the disk allows it (a warning while it does not).
So when the disk fills up, the journal still has the rest of the current segment plus one whole
spare segment to write into, while part files fail and their rows wait, journaled.

A segment without reserved space (one that grows) is used only where no reserve is given up
by it: as the first segment when the disk is too full to reserve one (so a nearly full disk
still starts and recovers, with a warning), after a segment filled up, or after one that had
none. A flush never rotates from a reserved segment into an unreserved one: it fails (rows stay
journaled, retried) until a spare can be had, which the freed space of a successful flush or the
operator provides.

When even that reserve is used up: :meth:`JournalWriter.append` raises :class:`JournalFullError`
(an ``OSError`` with ENOSPC/EDQUOT); the store keeps the rows in memory, counts ``journal_errors``
and retries them at every sync, so they are journaled as soon as space is freed. Until then a
kill -9 loses them, which the store's health check reports (``journal write failing``). A clean
close gives the spare's space back; the next start allocates it anew. Where ``fallocate`` is not
supported the segments simply grow (one warning): no reserve, the rest is unchanged.

Invariant the store keeps (``live.py``)
---------------------------------------
*Coverage*: if a part of table T for UTC day D named with N exists (or is listed as merged in the
footer of T's day file for D), then every T-row of day D journaled in a segment ``<= N`` is in a
part or in the day file. A flush rotates at N (closes segment N, opens N+1), takes *every*
journaled row into its snapshot and writes one part per (table, day); a (table, day) whose write
fails gets all of its rows put back and no part, so a part never covers only some of its rows.
Recovery relies on this: a journaled row of (T, D) in segment s is replayed only if no part of
(T, D) with ``N >= s`` exists. Rows of this process land in segments > N of every old part, so a
fresh row is never mistaken for a stored one. A rotation because a segment is full changes none of
this: it opens N+1 without a flush, and the next flush's cut is still the newest segment.

Crash points (kill -9 at any instruction) and what happens
-----------------------------------------------------------
Sync (append + fdatasync):
  S1. During the frame write: the frame is torn (a prefix, then zeros or the end of the file); the
      reader reports a torn tail and drops it. ``sync`` had not returned, so those rows were
      never promised; they exist nowhere else, so nothing is duplicated.
  S2. After the write, before ``fdatasync`` returned: the frame is either whole (replayed) or torn
      (dropped). Not yet promised either way; never duplicated.
  S3. The write fails (disk full, EFBIG, EIO, EROFS) without a crash: the frame's bytes are zeroed
      again (inside the allocation; truncated beyond it) and synced, and the rows go back to the
      front of the pending buffer for the next sync. If even that fails, the segment is abandoned
      (nothing is ever appended after a torn frame) and the next sync uses the next segment.
      Residual risk, stated honestly: if ``fdatasync`` fails after a write the kernel did keep and
      the undo fails too, that frame may survive and its rows be journaled twice; recovery would
      then store them twice.
Rotation (at a flush, or because the segment is full):
  R1. While making the spare: only ``CID.spare`` is touched, which recovery never reads; a
      leftover spare is reused if it is an empty segment, else kept as ``CID.spare.damaged``.
  R2. While renaming the spare to segment N+1: the rename is atomic; either name holds an empty
      segment, and nothing is appended to N+1 before the rename is synced. Segment N is intact.
Flush (parts, then retire segments <= N):
  F1. Before any part is renamed into place: no part with this N exists; recovery replays every
      row of segments <= N.
  F2. After some (table, day) parts were renamed, before others: the written ones cover their rows
      (coverage invariant), recovery skips those and replays the rest: exactly once.
  F3. In the middle of writing a part: only a dot-named temp file exists; readers never look at
      dot-files and stale ones are deleted by compaction.
  F4. After every part, before or while deleting segments <= N: every (table, day) is covered;
      recovery replays nothing from them and deletes them.
Recovery (adopt old segments into the buffer, then an ordinary flush with a new N): a crash during
it is one of F1-F4 again, with a larger N; running it twice, or crashing in it any number of times,
gives the same stored rows. A segment with damaged bytes (anything skipped but a torn tail) gives
up its intact frames like any other, and is never deleted: when its segment would be deleted
(its rows are stored, F4) it is renamed ``*.wal.damaged`` instead and left for the operator; a
crash before that rename reads it again at the next start, exactly once as above. A segment that
cannot be read at all is moved aside (``*.wal.unreadable``, by the store): left a ``.wal`` and read
at a later start under its old number, its rows would be taken for stored, since the parts written
meanwhile cover that number.
Compaction (in ``compact.py``):
  C1. While writing the day file: only a temp file; the parts are untouched.
  C2. After the day file is renamed into place, before the parts are deleted: the day file's footer
      lists the part names it merged; readers skip those parts, the next compaction only deletes
      them, recovery counts them as covering.
  C3. Half-way through deleting the parts: same as C2.

Modules: ``frames`` (encoding, the two formats), ``scan`` (reading back), ``segments`` (file
names), ``reserve`` (segment files and the spare), ``writer`` (:class:`JournalWriter`),
``fileops`` (the injectable file layer).
"""

from __future__ import annotations

from kalshi_collector.storage.journal.fileops import OS_FILE_OPS, FileOps, OsFileOps
from kalshi_collector.storage.journal.frames import MAGIC, MAGIC_V1, encode_frame, encode_rejects
from kalshi_collector.storage.journal.scan import SegmentScan, SkipKind, Skipped, read_segment
from kalshi_collector.storage.journal.segments import damaged_path, list_segments, segment_path, spare_path
from kalshi_collector.storage.journal.writer import (
    DEFAULT_SEGMENT_BYTES,
    JournalFullError,
    JournalLockedError,
    JournalOptions,
    JournalReserve,
    JournalWriter,
)

__all__ = [
    "DEFAULT_SEGMENT_BYTES",
    "MAGIC",
    "MAGIC_V1",
    "OS_FILE_OPS",
    "FileOps",
    "JournalFullError",
    "JournalLockedError",
    "JournalOptions",
    "JournalReserve",
    "JournalWriter",
    "OsFileOps",
    "SegmentScan",
    "SkipKind",
    "Skipped",
    "damaged_path",
    "encode_frame",
    "encode_rejects",
    "list_segments",
    "read_segment",
    "segment_path",
    "spare_path",
]
