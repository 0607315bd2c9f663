//! A stand-in for the scheduler in the encoder's tests: the scheduling state as plain data
//! ([`World`]), and a [`Rig`] that makes each state change in it and has the encoder write the
//! event, the way the scheduler does (change first, then the event, then the generation end the
//! event found due). It checks nothing: the tests only make changes Go allows.

use gotrace_encoder::{
    Clock, Config, Encoder, GoSlot, GoStatus, ProcStatus, Reason, Scheduling, Sink, VecSink,
};

/// The scheduling state, as the encoder reads it.
pub struct World {
    pub ctx_p: Vec<Option<usize>>,
    pub ctx_g: Vec<Option<GoSlot>>,
    pub procs: Vec<(ProcStatus, usize)>,
    pub tasks: Vec<GoStatus>,
    pub callbacks: Vec<GoStatus>,
}

impl Scheduling for World {
    fn context_proc(&self, m: usize) -> Option<usize> {
        self.ctx_p[m]
    }

    fn context_go(&self, m: usize) -> Option<GoSlot> {
        self.ctx_g[m]
    }

    fn proc_status(&self, p: usize) -> ProcStatus {
        self.procs[p].0
    }

    fn go_status(&self, g: GoSlot) -> GoStatus {
        *self.slot(g)
    }
}

impl World {
    fn slot(&self, g: GoSlot) -> &GoStatus {
        match g {
            GoSlot::Task(t) => &self.tasks[t],
            GoSlot::Callback(m) => &self.callbacks[m],
        }
    }

    fn slot_mut(&mut self, g: GoSlot) -> &mut GoStatus {
        match g {
            GoSlot::Task(t) => &mut self.tasks[t],
            GoSlot::Callback(m) => &mut self.callbacks[m],
        }
    }
}

/// The encoder (writing to a `VecSink` unless a test needs a sink of its own) and its world.
pub struct Rig<C, const MS: usize, const PS: usize, const GS: usize, const BUF: usize, S = VecSink>
{
    pub e: Encoder<C, S, GS, PS, MS, BUF>,
    pub w: World,
}

impl<C: Clock, const MS: usize, const PS: usize, const GS: usize, const BUF: usize>
    Rig<C, MS, PS, GS, BUF>
{
    pub fn new(clock: C, config: Config) -> Self {
        Rig::with_sink(clock, VecSink::default(), config)
    }
}

impl<S: Sink, C: Clock, const MS: usize, const PS: usize, const GS: usize, const BUF: usize>
    Rig<C, MS, PS, GS, BUF, S>
{
    pub fn with_sink(clock: C, sink: S, config: Config) -> Self {
        Rig {
            e: Encoder::new(clock, sink, config),
            w: World {
                ctx_p: vec![None; MS],
                ctx_g: vec![None; MS],
                procs: vec![(ProcStatus::Idle, 0); PS],
                tasks: vec![GoStatus::Dead; GS],
                callbacks: vec![GoStatus::Dead; MS],
            },
        }
    }

    fn due(&mut self, m: usize, due: bool) {
        if due {
            self.e.advance(m, &self.w).unwrap();
        }
    }

    pub fn start(&mut self, m: usize) {
        self.e.start(m, &self.w).unwrap();
    }

    pub fn advance(&mut self, m: usize) {
        self.e.advance(m, &self.w).unwrap();
    }

    pub fn proc_start(&mut self, m: usize, p: usize) {
        self.w.procs[p] = (ProcStatus::Running, m);
        self.w.ctx_p[m] = Some(p);
        self.e.proc_start(m, p, &self.w);
    }

    pub fn proc_stop(&mut self, m: usize) {
        let p = self.w.ctx_p[m].take().unwrap();
        self.w.procs[p].0 = ProcStatus::Idle;
        self.e.proc_stop(m, &self.w);
    }

    pub fn proc_steal(&mut self, m: usize, p: usize) {
        let owner = self.w.procs[p].1;
        if self.w.procs[p].0 == ProcStatus::Syscall {
            self.w.ctx_p[owner] = None;
        }
        self.w.procs[p].0 = ProcStatus::Idle;
        self.e.proc_steal(m, p, owner, &self.w);
    }

    pub fn go_create(&mut self, m: usize, t: usize, pc: u64) {
        let due = self.e.go_create(m, t, pc, &self.w);
        self.w.tasks[t] = GoStatus::Runnable;
        self.due(m, due);
    }

    pub fn go_start(&mut self, m: usize, g: GoSlot) {
        *self.w.slot_mut(g) = GoStatus::Running;
        self.w.ctx_g[m] = Some(g);
        self.e.go_start(m, g, &self.w);
    }

    fn leave(&mut self, m: usize, status: GoStatus) {
        let g = self.w.ctx_g[m].take().unwrap();
        *self.w.slot_mut(g) = status;
    }

    pub fn go_stop(&mut self, m: usize) {
        self.leave(m, GoStatus::Runnable);
        self.e.go_stop(m, Reason::Yield, &self.w);
    }

    pub fn go_block(&mut self, m: usize) {
        self.leave(m, GoStatus::Waiting);
        self.e.go_block(m, Reason::Wait, &self.w);
    }

    pub fn go_destroy(&mut self, m: usize) {
        self.leave(m, GoStatus::Dead);
        self.e.go_destroy(m, &self.w);
    }

    pub fn go_unblock(&mut self, m: usize, g: GoSlot) {
        *self.w.slot_mut(g) = GoStatus::Runnable;
        self.e.go_unblock(m, g, &self.w);
    }

    pub fn syscall_begin(&mut self, m: usize) {
        let g = self.w.ctx_g[m].unwrap();
        let p = self.w.ctx_p[m].unwrap();
        *self.w.slot_mut(g) = GoStatus::Syscall;
        self.w.procs[p].0 = ProcStatus::Syscall;
        self.e.syscall_begin(m, p, &self.w);
    }

    /// Whether the goroutine kept its executor.
    pub fn syscall_end(&mut self, m: usize) -> bool {
        let g = self.w.ctx_g[m].unwrap();
        let kept = match self.w.ctx_p[m] {
            Some(p) if self.w.procs[p].0 == ProcStatus::Syscall => {
                self.w.procs[p].0 = ProcStatus::Running;
                *self.w.slot_mut(g) = GoStatus::Running;
                true
            }
            _ => {
                *self.w.slot_mut(g) = GoStatus::Runnable;
                self.w.ctx_g[m] = None;
                false
            }
        };
        self.e.syscall_end(m, kept, &self.w);
        kept
    }

    pub fn callback_enter(&mut self, m: usize) {
        self.w.callbacks[m] = GoStatus::Syscall;
        self.w.ctx_g[m] = Some(GoSlot::Callback(m));
        self.e.callback_enter(m, &self.w);
    }

    pub fn callback_exit(&mut self, m: usize) {
        if let Some(p) = self.w.ctx_p[m].take() {
            self.w.procs[p].0 = ProcStatus::Abandoned;
        }
        self.w.callbacks[m] = GoStatus::Dead;
        self.w.ctx_g[m] = None;
        self.e.callback_exit(m, &self.w);
    }
}
