/// The vassal's shared page (the fd of `welcome`): 64-bit words the vassal
/// writes at the end of each turn and every attached worker reads.
public enum HandoffBoard {
    /// Words in the page.
    public static let words = 8
    /// Requests waiting for a worker (the vassal's queue and its listeners'
    /// backlogs): a worker lingers, or stays silent after a request, only while it is 0.
    public static let waiting = 0
    /// The keep-alive connections a seated worker holds at most: an equal share
    /// of all that seated workers hold, rounded up (0: no limit). Connections
    /// reach workers as their clients connect, so the first workers free take
    /// more (measured: 10, 7, 8, 7 of 32 wrk connections over 4 workers, and
    /// Django's p99 through the vassal 21.6 ms against 16.7 standalone); past
    /// its share a worker gives idle ones back, and the vassal hands them to
    /// the workers holding fewest.
    public static let share = 1
    /// 1 from the end of a turn in which requests waited until the vassal next
    /// wakes, else 0 (version 6, `HandoffMessage.quietVersion`): a seated
    /// worker that comes free says `available` only while it is 1. Otherwise
    /// the vassal is awake and looks at the seats before it sleeps (it sets
    /// this word, then, after a full fence, looks at the seats; a worker
    /// writes its seat, then, after a full fence, reads this word: one of the
    /// two sees the other). Why: under `Connection: close` load requests
    /// always wait in the backlog, and every freed worker sent `available`
    /// (a send in the worker, two receives in the vassal, per connection).
    public static let asleep = 2
}
