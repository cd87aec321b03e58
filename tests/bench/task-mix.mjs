// The mix of tasks both load generators send: a fixed number in flight, each event moving a
// random one of them one step on (e.g. received → started → succeeded), a finished task
// replaced by a new one at once. The in-flight set never grows, so picking stays O(1).
export class TaskMix {
  /** `newTask(seq)` makes the state of task number `seq`; `steps` events finish a task. */
  constructor(newTask, { steps = 3, inFlight = 64 } = {}) {
    this.newTask = newTask;
    this.steps = steps;
    this.size = inFlight;
    this.tasks = [];
    this.seq = 0;
  }

  /** The task the next event is about, and which of its steps that event is. */
  next() {
    while (this.tasks.length < this.size) this.tasks.push({ state: this.newTask(this.seq++), step: 0 });
    const i = Math.floor(Math.random() * this.tasks.length);
    const t = this.tasks[i];
    const step = t.step++;
    if (t.step === this.steps) {
      this.tasks[i] = this.tasks.at(-1);
      this.tasks.pop();
    }
    return { task: t.state, step };
  }
}
