//! Events validated ahead of the caller, each checked against its generation's tables.
//!
//! The buffer's slots are whole [`Event`]s, each holding the current generation's tables, so the
//! reader lends the caller a slot as it is: an event is written once, by the ordering as it
//! validates it, and never copied on its way out. It is checked against the tables and its time
//! made later than the event's before it as it is written (events are handed out in the order
//! they are validated), rather than as it is handed out. Go checks an event as it hands it out,
//! which is after the step that validated it (and the read of its thread's next event) and
//! before the next step: so a failed check is held until its step ends, and reported then
//! unless the step itself failed, with the failed event and those after it dropped.

use std::sync::Arc;

use gotrace_wire::{EventType, Version};

use crate::batch_cursor::Cursor;
use crate::error::{Error, Location};
use crate::event::{
    type_table, BaseEvent, Event, GoId, ProcId, SchedCtx, TableId, ThreadId, Time, TypeTable,
};
use crate::generation::Generation;
use crate::table::Table;

/// Most events validated ahead of the caller: enough that the per-event path is a short loop,
/// few enough to stay in the cache and to cost little for a small trace, whose reader makes,
/// fills with the tables and drops every slot (128 against 256: 4% less time on
/// `go122-annotations-stress`, 2.5% on `go122-gc-stress`, the same on the large traces; 64 was
/// 2% slower on the real one). One step of the merge may validate a few events more (a
/// `GoSwitch` and the block and start it implies), for which the buffer has spare slots.
pub(crate) const READY_CAPACITY: usize = 128;

/// Slots beyond [`READY_CAPACITY`]: more than one step of the merge validates.
const SPARE_SLOTS: usize = 8;

/// Events validated ahead, in order: slots `next..len` of `events` are still to be handed out.
pub(crate) struct Ready {
    /// Every slot's `table` is an uncounted copy of [`Ready::table`] (see [`Ready::set_table`]):
    /// never dropped, only forgotten.
    events: Vec<Event>,
    /// The tables every slot holds, counted once for them all.
    table: Option<Arc<Table>>,
    len: usize,
    /// The length up to which the buffer takes more steps of the merge: [`READY_CAPACITY`], or
    /// 0 while a table check failure is held, so that the merge's one check of the buffer's
    /// room after each event also stops a run at a failure, which [`Ready::take_failure`] then
    /// reports once per run rather than being asked after every event (a take that stored
    /// `None` back at each one).
    room: usize,
    next: usize,
    /// The time of the last event validated or handed out (see [`Ready::later_time`]).
    last_ts: Time,
    /// The slots holding the task type of a `UserTaskEnd` since the last [`Ready::clear`], which
    /// clears just those (a pass over every slot whenever one had a task type was 2.5% of the
    /// time of a device trace, where a few tasks end in every 128 events).
    task_type_slots: Vec<usize>,
    /// What stopped validation, reported once the events before it are handed out (and where a
    /// failed step of the merge leaves its error for its caller, see `reader::step_cursor`).
    pub error: Option<Error>,
    /// The first event appended since [`Ready::take_failure`] that failed the table check. Every
    /// caller that appends takes it after each step of the merge, or after a run of steps that
    /// the failure ends at its step (a step that waits appends nothing), so it is none whenever
    /// the buffer is cleared.
    failed: Option<Box<Failed>>,
    /// The stacks and strings each type's events name, for the table check in [`Ready::push`].
    types: &'static TypeTable,
}

impl Ready {
    pub(crate) fn new() -> Self {
        let empty = Event::sync(None, 0, 0);
        Ready {
            events: vec![empty; READY_CAPACITY + SPARE_SLOTS],
            table: None,
            len: 0,
            room: READY_CAPACITY,
            next: 0,
            last_ts: 0,
            task_type_slots: Vec::new(),
            error: None,
            failed: None,
            types: type_table(),
        }
    }

    /// Makes every slot hold `table` (the current generation's, or none between generations, so
    /// that a finished generation's tables are dropped before the next is read).
    ///
    /// The slots' copies are not counted: the buffer counts one reference for them all. A
    /// counted copy per slot took an atomic increment and decrement per slot and generation,
    /// 5% of the time of a small trace's read (`go122-annotations-stress`, one generation of
    /// 574 events). A lent event that is cloned clones its table's `Arc` as any other, counted.
    pub(crate) fn set_table(&mut self, table: Option<&Arc<Table>>) {
        for event in &mut self.events {
            std::mem::forget(std::mem::replace(&mut event.table, uncounted(table)));
        }
        // Dropped after no slot points to it any more.
        self.table = table.cloned();
    }

    /// How many events the buffer holds, handed out or not.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer has room for another step of the merge: not while a table check
    /// failure is held (see [`Ready::room`]).
    #[inline(always)]
    pub(crate) fn has_room(&self) -> bool {
        self.len < self.room
    }

    /// Empties the buffer for the next events.
    pub(crate) fn clear(&mut self) {
        for i in self.task_type_slots.drain(..) {
            if let Some(event) = self.events.get_mut(i) {
                event.task_type = None;
            }
        }
        self.len = 0;
        self.room = READY_CAPACITY;
        self.next = 0;
    }

    /// The time the next event handed out gets for `time` (see [`later_time`]).
    pub(crate) fn later_time(&mut self, time: Time) -> Time {
        later_time(time, &mut self.last_ts)
    }

    /// The time of the last event validated or handed out.
    pub(crate) fn last_time(&self) -> Time {
        self.last_ts
    }

    /// Appends a validated event in context `g`, `p`, `m`, checked against the generation's
    /// `table` (a failure is kept for [`Ready::take_failure`]), its time made later than the last
    /// one's. Checked as it is appended, while its values are at hand: checked in a pass over
    /// the step's events after the step, reading them back from their slots, the check took a
    /// fifth of the time of the real trace, most of it the table look-ups.
    ///
    /// Copied field by field, but the arguments whole: the event and the context were stored a
    /// field at a time just before, and a copy of either whole loads two fields at once, which
    /// the processor cannot forward from those stores (perf put the hottest instructions of the
    /// merge there); the context comes as three values because passed whole it was copied whole
    /// into a temporary first. The arguments were copied that way too, only the slots the type
    /// uses, each behind an exit on the type's count (a plain copy of the four is merged back
    /// into wide loads by the compiler): since the table check reads the event here, copying
    /// the four slots whole, the exits gone, takes 2–2.5% less time on the large traces.
    ///
    /// The table check looks at the arguments that `ids` names: those of the type table, or
    /// those a caller that knows the event's type gives ([`TableIds::Known`]), whose check of
    /// each, inlined, is then its own branch at a constant argument rather than a loop over the
    /// type's entries, whose exit and stack-or-string branches mispredict as the types alternate
    /// (the generated trace −4%, the device trace −5%).
    #[inline(always)]
    pub(crate) fn push(
        &mut self,
        g: GoId,
        p: ProcId,
        m: ThreadId,
        base: &BaseEvent,
        table: &Table,
        ids: TableIds,
    ) {
        if let Err(error) = validate_table_ids(base, table, self.types, ids) {
            self.fail(error, SchedCtx { g, p, m }, base);
        }
        let time = later_time(base.time, &mut self.last_ts);
        match self.events.get_mut(self.len) {
            Some(slot) => {
                slot.ctx.g = g;
                slot.ctx.p = p;
                slot.ctx.m = m;
                slot.base.typ = base.typ;
                slot.base.time = time;
                slot.base.args = base.args;
            }
            None => self.grow(SchedCtx { g, p, m }, BaseEvent { time, ..*base }),
        }
        self.len += 1;
    }

    /// Keeps the table check's `error` for the event about to be appended (`ctx`, `base`, its
    /// time as read), unless an earlier one is kept.
    #[cold]
    #[inline(never)]
    fn fail(&mut self, error: Error, ctx: SchedCtx, base: &BaseEvent) {
        self.room = 0;
        if self.failed.is_none() {
            self.failed = Some(Box::new(Failed {
                at: self.len,
                ctx,
                base: *base,
                error,
            }));
        }
    }

    /// Gives the last event appended, a `UserTaskEnd`, the type of the task it ends.
    pub(crate) fn set_task_type(&mut self, task_type: Arc<[u8]>) {
        let Some(i) = self.len.checked_sub(1) else {
            return;
        };
        if let Some(event) = self.events.get_mut(i) {
            event.task_type = Some(task_type);
            self.task_type_slots.push(i);
        }
    }

    /// Appends an event beyond the slots there are (not expected: the merge stops at
    /// [`READY_CAPACITY`] and a step validates fewer than [`SPARE_SLOTS`] events).
    #[cold]
    fn grow(&mut self, ctx: SchedCtx, base: BaseEvent) {
        self.events.push(Event {
            table: uncounted(self.table.as_ref()),
            ctx,
            base,
            task_type: None,
        });
    }

    /// Drops the events from `len` on (and a table check failure among them).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
        if self.failed.as_ref().is_some_and(|f| f.at >= len) {
            self.failed = None;
            self.room = READY_CAPACITY;
        }
    }

    /// The next event to hand out, if any.
    #[inline(always)]
    pub(crate) fn take_next(&mut self) -> Option<&Event> {
        if self.next >= self.len {
            return None;
        }
        let event = self.events.get(self.next);
        self.next += 1;
        event
    }

    /// Whether events are waiting to be handed out.
    #[inline(always)]
    pub(crate) fn is_drained(&self) -> bool {
        self.next >= self.len
    }

    /// The table check's failure among the events appended since the last call, if any: the
    /// failed event and those after it are dropped, and the error says where the event is
    /// (`version`: the trace's, for the event's raw form).
    #[inline(always)]
    pub(crate) fn take_failure(&mut self, gen: &Generation, version: Version) -> Result<(), Error> {
        match self.failed.take() {
            None => Ok(()),
            Some(failed) => Err(self.dropped(*failed, gen, version)),
        }
    }

    /// Drops the `failed` event and those after it and names it in its error; out of line, as
    /// the error's text is built only here.
    #[cold]
    fn dropped(&mut self, failed: Failed, gen: &Generation, version: Version) -> Error {
        self.truncate(failed.at);
        self.room = READY_CAPACITY;
        // Not found is not expected (the event was read from those bytes): then the generation
        // and the M are all there is to name.
        let location = self.locate(&failed, gen, version).unwrap_or(Location {
            generation: Some(gen.gen),
            thread: Some(failed.ctx.m),
            ..Location::default()
        });
        failed.error.at(&location)
    }

    /// Where the event that failed the table check is in the file: the first event of its M
    /// with its type, its time as read and the IDs it names, found by reading the M's batches
    /// again (its cursor has moved on). The IDs, not every argument, as the ordering may have
    /// changed others in place (a parent task 0 made `NO_TASK`), and the first such event, as
    /// any earlier one would have failed the same check first. (A CPU sample, in no thread's
    /// batches, never fails the check: as in Go, the argument it checks is not its stack.)
    fn locate(&self, failed: &Failed, gen: &Generation, version: Version) -> Option<Location> {
        let wanted = &failed.base;
        let ids = table_id_args(self.types, wanted.typ);
        let matches = |event: &BaseEvent| {
            event.typ == wanted.typ
                && event.time == wanted.time
                && ids.iter().all(|&id| event.arg(id) == wanted.arg(id))
        };
        Cursor::find(gen, failed.ctx.m, version, &self.types.timed_args, matches)
    }
}

impl Drop for Ready {
    /// Forgets the slots' uncounted copies of the tables; `table`, dropped after this, holds
    /// the count.
    fn drop(&mut self) {
        for event in &mut self.events {
            std::mem::forget(event.table.take());
        }
    }
}

/// A copy of `table` that does not count as a reference: it must be forgotten, never dropped,
/// and is valid while a counted reference to the same tables lives ([`Ready::table`]).
fn uncounted(table: Option<&Arc<Table>>) -> Option<Arc<Table>> {
    // SAFETY: the pointer is the one `Arc::into_raw` gives for this `Arc`, so `from_raw` makes
    // another `Arc` of the same allocation without touching its count. The buffer keeps a
    // counted reference to it in `Ready::table` for as long as any slot holds the copy, and
    // every copy is forgotten (in `set_table` and `drop`), never dropped, so the count is never
    // decremented for it.
    table.map(|table| unsafe { Arc::from_raw(Arc::as_ptr(table)) })
}

/// An event that failed the table check, as it was appended, and the error.
struct Failed {
    at: usize,
    ctx: SchedCtx,
    base: BaseEvent,
    error: Error,
}

/// The time an event handed out after one at `last_ts` gets for `time`, made the new `last_ts`:
/// output times strictly increase, whatever the clocks said. Every event goes through here in the
/// order it is handed out: those of the buffer as they are appended, which is in the order they
/// are validated, the Syncs between them as they are handed out. (Events dropped after an error
/// move `last_ts` too, but nothing is handed out after the error.)
#[inline(always)]
fn later_time(time: Time, last_ts: &mut Time) -> Time {
    let time = if time <= *last_ts {
        last_ts.wrapping_add(1)
    } else {
        time
    };
    *last_ts = time;
    time
}

/// The positions of the arguments of a `typ` event that name stacks and strings.
fn table_id_args(types: &TypeTable, typ: EventType) -> Vec<usize> {
    types[usize::from(typ.0)]
        .ids()
        .iter()
        .map(|id| usize::from(id.arg))
        .collect()
}

/// Which arguments of an event the table check looks at.
#[derive(Clone, Copy)]
pub(crate) enum TableIds {
    /// Those the type table gives for the event's type.
    OfType,
    /// These, in the type table's order (stacks, then strings), given by a handler that knows
    /// the type; a string the handler has itself looked up may be left out (it exists). The
    /// ordering's unit test compares each with the type table.
    Known(&'static [TableId]),
}

/// Checks that the stacks and strings an event names exist in its generation's `table`.
#[inline(always)]
fn validate_table_ids(
    base: &BaseEvent,
    table: &Table,
    types: &TypeTable,
    ids: TableIds,
) -> Result<(), Error> {
    let ids = match ids {
        TableIds::Known(ids) => ids,
        TableIds::OfType => {
            let info = &types[usize::from(base.typ.0)];
            if info.table_id_count == 0 {
                return Ok(());
            }
            info.ids()
        }
    };
    for id in ids {
        let value = base.arg(usize::from(id.arg));
        let found = if id.is_stack {
            table.has_stack(value)
        } else {
            table.has_string(value)
        };
        if !found {
            return Err(invalid_id_error(base.typ, id.is_stack, value));
        }
    }
    Ok(())
}

#[cold]
fn invalid_id_error(typ: EventType, is_stack: bool, id: u64) -> Error {
    let what = if is_stack { "stack" } else { "string" };
    let name = typ.name().unwrap_or_default();
    Error::new(format!("found invalid {what} ID {id} for event {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task_end(time: Time) -> BaseEvent {
        BaseEvent {
            typ: EventType::USER_TASK_END,
            time,
            args: [7, 0, 0, 0],
        }
    }

    fn slots_with_task_types(ready: &Ready) -> Vec<usize> {
        (ready.events.iter().enumerate())
            .filter(|(_, e)| e.task_type.is_some())
            .map(|(i, _)| i)
            .collect()
    }

    /// Clearing only the slots recorded must still leave no task type behind for a later
    /// event to show: not for the slots an error's truncation cut off, nor for the slots grown
    /// beyond the buffer's.
    #[test]
    fn task_types_do_not_outlive_their_events() {
        let table = Table::default();
        let mut ready = Ready::new();
        let slots = READY_CAPACITY + SPARE_SLOTS + 3;
        for time in 0..slots {
            ready.push(1, 2, 3, &task_end(time as Time), &table, TableIds::OfType);
            ready.set_task_type(Arc::from(&b"net"[..]));
        }
        assert_eq!(ready.events.len(), slots);
        ready.clear();
        assert_eq!(slots_with_task_types(&ready), Vec::<usize>::new());

        // A step that appended task ends and then failed: its events are dropped.
        for time in 0..4 {
            ready.push(1, 2, 3, &task_end(time), &table, TableIds::OfType);
            if time >= 2 {
                ready.set_task_type(Arc::from(&b"io"[..]));
            }
        }
        ready.truncate(2);
        ready.clear();
        assert_eq!(slots_with_task_types(&ready), Vec::<usize>::new());
        assert!(ready.task_type_slots.is_empty());
    }

    /// A table check failure leaves the buffer no room, so that the merge's run stops at its
    /// step, until the failure goes: with its event when the buffer is cut before it, or with
    /// the events when the buffer is cleared.
    #[test]
    fn a_held_failure_leaves_no_room() {
        let table = Table::default();
        let mut ready = Ready::new();
        // A region named by a string the tables do not have.
        let unnamed = BaseEvent {
            typ: EventType::USER_REGION_BEGIN,
            time: 1,
            args: [0, 5, 0, 0],
        };
        ready.push(1, 2, 3, &task_end(0), &table, TableIds::OfType);
        assert!(ready.has_room());
        ready.push(1, 2, 3, &unnamed, &table, TableIds::OfType);
        assert!(!ready.has_room());
        assert!(ready.failed.is_some());
        ready.truncate(2);
        assert!(!ready.has_room(), "the failed event is still there");
        ready.truncate(1);
        assert!(ready.has_room());
        assert!(ready.failed.is_none());
        ready.push(1, 2, 3, &unnamed, &table, TableIds::OfType);
        assert!(!ready.has_room());
        ready.failed = None;
        ready.clear();
        assert!(ready.has_room());
    }

    /// The slots' copies of the tables count as one reference, whatever the number of slots
    /// (grown ones too), and an event cloned from a slot counts as its own; the tables go when
    /// the last counted reference does.
    #[test]
    fn slots_count_their_tables_once() {
        let first = Arc::new(Table::default());
        let second = Arc::new(Table::default());
        let mut ready = Ready::new();
        ready.set_table(Some(&first));
        assert_eq!(Arc::strong_count(&first), 2);
        for time in 0..(READY_CAPACITY + SPARE_SLOTS + 3) {
            ready.push(1, 2, 3, &task_end(time as Time), &first, TableIds::OfType);
        }
        assert!(ready
            .events
            .iter()
            .all(|e| e.table.as_ref().is_some_and(|t| Arc::ptr_eq(t, &first))));
        let kept = ready.take_next().cloned();
        assert_eq!(Arc::strong_count(&first), 3);
        ready.set_table(Some(&second));
        assert_eq!(Arc::strong_count(&first), 2, "the clone and the test's own");
        assert_eq!(Arc::strong_count(&second), 2);
        ready.set_table(None);
        assert_eq!(Arc::strong_count(&second), 1);
        ready.set_table(Some(&second));
        drop(ready);
        assert_eq!(Arc::strong_count(&second), 1);
        drop(kept);
        assert_eq!(Arc::strong_count(&first), 1);
        let weak = Arc::downgrade(&first);
        drop(first);
        assert!(
            weak.upgrade().is_none(),
            "the tables are gone with the last reference"
        );
    }
}
