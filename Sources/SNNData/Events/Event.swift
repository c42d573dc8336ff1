/// One address-event from a neuromorphic sensor: a pixel `(x, y)` changed brightness by one
/// contrast step at `timestamp`.
///
/// - `x`, `y`: pixel column and row (0-based, origin at the top left as the sensor reports it).
/// - `polarity`: 1 for an ON event (brightness up), 0 for OFF. For 1-D sensors (SHD cochlea) `x`
///   is the channel, `y` is 0 and `polarity` is 1.
/// - `timestamp`: microseconds since the start of the recording (or of the sample).
public struct Event: Sendable, Equatable {
    public var x: UInt16
    public var y: UInt16
    public var polarity: UInt8
    /// Microseconds.
    public var timestamp: UInt32

    public init(x: UInt16, y: UInt16, polarity: UInt8, timestamp: UInt32) {
        self.x = x
        self.y = y
        self.polarity = polarity
        self.timestamp = timestamp
    }
}
