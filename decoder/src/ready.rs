//! Events validated ahead of the caller, each checked against its generation's tables.
//!
//! The buffer's slots are whole [`Event`]s, each holding the current generation's tables, so the
//! reader lends the caller a slot as it is: an event is written once, by the ordering as it
//! validates it, and never copied on its way out. Its time is made later than the event's before
//! it once it passes the table check (events are handed out in the order they are validated),
//! while the slot is in the cache, rather than as it is handed out.

use std::sync::Arc;

use gotrace_wire::EventType;

use crate::error::{Error, Location};
use crate::event::{
    type_table, wire_spec, BaseEvent, Event, GoId, ProcId, SchedCtx, ThreadId, Time, TypeTable,
};
use crate::generation::Generation;
use crate::order::Ordering;
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
    events: Vec<Event>,
    len: usize,
    next: usize,
    /// The time of the last event validated or handed out (see [`Ready::later_time`]).
    last_ts: Time,
    /// Whether a slot may still hold the task type of a `UserTaskEnd` handed out earlier.
    task_types: bool,
    /// What stopped validation, reported once the events before it are handed out.
    pub error: Option<Error>,
    /// How many argument slots each type's events use (see [`Ready::push`]).
    types: &'static TypeTable,
}

impl Ready {
    pub(crate) fn new() -> Self {
        let empty = Event::sync(None, 0, 0);
        Ready {
            events: vec![empty; READY_CAPACITY + SPARE_SLOTS],
            len: 0,
            next: 0,
            last_ts: 0,
            task_types: false,
            error: None,
            types: type_table(),
        }
    }

    /// Makes every slot hold `table` (the current generation's, or none between generations, so
    /// that a finished generation's tables are dropped before the next is read).
    pub(crate) fn set_table(&mut self, table: Option<&Arc<Table>>) {
        for event in &mut self.events {
            event.table = table.cloned();
        }
    }

    /// How many events the buffer holds, handed out or not.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer has room for another step of the merge.
    #[inline(always)]
    pub(crate) fn has_room(&self) -> bool {
        self.len < READY_CAPACITY
    }

    /// Empties the buffer for the next events.
    pub(crate) fn clear(&mut self) {
        if self.task_types {
            for event in self.events.iter_mut().take(self.len) {
                event.task_type = None;
            }
            self.task_types = false;
        }
        self.len = 0;
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

    /// Appends a validated event in context `g`, `p`, `m`.
    ///
    /// Field by field, and only the argument slots the event's type uses (its arguments and
    /// Go's one extra; the slots after them are never read): the event and the context were
    /// stored a field at a time just before, and a copy of either whole loads two fields at
    /// once, which the processor cannot forward from those stores (perf put the hottest
    /// instructions of the merge there). A plain field-by-field copy of all four argument slots
    /// is merged back into wide loads by the compiler, the exit after the slots in use keeps
    /// the loads apart; the context comes as three values because passed whole it was copied
    /// whole into a temporary first.
    #[inline(always)]
    pub(crate) fn push(&mut self, g: GoId, p: ProcId, m: ThreadId, base: &BaseEvent) {
        // All slots for a type without a count (`UNTIMED` + 1 is more than there are).
        let used = usize::from(self.types.timed_args[usize::from(base.typ.0)]) + 1;
        match self.events.get_mut(self.len) {
            Some(slot) => {
                slot.ctx.g = g;
                slot.ctx.p = p;
                slot.ctx.m = m;
                slot.base.typ = base.typ;
                slot.base.time = base.time;
                for (i, (to, from)) in slot.base.args.iter_mut().zip(&base.args).enumerate() {
                    if i >= used {
                        break;
                    }
                    *to = *from;
                }
            }
            None => self.grow(SchedCtx { g, p, m }, *base),
        }
        self.len += 1;
    }

    /// Appends an event beyond the slots there are (not expected: the merge stops at
    /// [`READY_CAPACITY`] and a step validates fewer than [`SPARE_SLOTS`] events).
    #[cold]
    fn grow(&mut self, ctx: SchedCtx, base: BaseEvent) {
        let table = self.events.first().and_then(|e| e.table.clone());
        self.events.push(Event {
            table,
            ctx,
            base,
            task_type: None,
        });
    }

    /// Drops the events from `len` on.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
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

    /// Checks the event at `at` against the generation's tables (its time as read, in the error),
    /// gives a `UserTaskEnd` the type of the task it ends, and makes its time later than the
    /// last one's.
    #[inline(always)]
    fn check(
        &mut self,
        at: usize,
        gen: &Generation,
        types: &TypeTable,
        order: &mut Ordering,
    ) -> Result<(), Error> {
        let Some(event) = self.events.get_mut(at) else {
            return Ok(());
        };
        if let Err(error) = validate_table_ids(&event.base, &gen.table, types) {
            return Err(table_id_error(error, event, gen));
        }
        if event.base.typ == EventType::USER_TASK_END {
            event.task_type = order.take_ended_task_type();
            self.task_types = true;
        }
        event.base.time = later_time(event.base.time, &mut self.last_ts);
        Ok(())
    }

    /// Checks the last event (see [`Ready::check_from`]).
    pub(crate) fn check_last(
        &mut self,
        gen: &Generation,
        types: &TypeTable,
        order: &mut Ordering,
    ) -> Result<(), Error> {
        self.check_from(self.len.saturating_sub(1), gen, types, order)
    }

    /// Checks the events from `from` on; the first that fails is dropped with those after it.
    #[inline(always)]
    pub(crate) fn check_from(
        &mut self,
        from: usize,
        gen: &Generation,
        types: &TypeTable,
        order: &mut Ordering,
    ) -> Result<(), Error> {
        for at in from..self.len {
            if let Err(error) = self.check(at, gen, types, order) {
                self.truncate(at);
                return Err(error);
            }
        }
        Ok(())
    }
}

/// The time an event handed out after one at `last_ts` gets for `time`, made the new `last_ts`:
/// output times strictly increase, whatever the clocks said. Every event goes through here in the
/// order it is handed out: those of the buffer as they pass the table check, which is in the
/// order they are validated, the Syncs between them as they are handed out.
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

/// Names the event that failed the table check by the first line of its Go form.
#[cold]
fn table_id_error(error: Error, event: &Event, gen: &Generation) -> Error {
    let text = Event {
        table: Some(Arc::clone(&gen.table)),
        ctx: event.ctx,
        base: event.base,
        task_type: None,
    }
    .to_string();
    let location = Location {
        generation: Some(gen.gen),
        thread: Some(event.ctx.m),
        event: text.lines().next().map(str::to_owned),
        ..Location::default()
    };
    error.at(&location)
}

/// Checks that the stacks and strings an event names exist in its generation's `table`.
#[inline(always)]
fn validate_table_ids(base: &BaseEvent, table: &Table, types: &TypeTable) -> Result<(), Error> {
    let info = &types[usize::from(base.typ.0)];
    if info.table_id_count == 0 {
        return Ok(());
    }
    let ids = info.table_ids.get(..usize::from(info.table_id_count));
    for id in ids.unwrap_or_default() {
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
    let name = wire_spec(typ).map(|s| s.name).unwrap_or_default();
    Error::new(format!("found invalid {what} ID {id} for event {name}"))
}
