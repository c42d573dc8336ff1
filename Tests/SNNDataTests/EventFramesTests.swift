import SNNData
import SNNTensor
import Testing

@Suite struct EventFramesTests {
    @Test func handMadeEventsGiveHandComputedCounts() {
        // 3x2 sensor (width 3, height 2), 3 windows of 10 ms.
        let ev: [Event] = [
            Event(x: 0, y: 0, polarity: 1, timestamp: 0),        // t0, ON, (0,0)
            Event(x: 0, y: 0, polarity: 1, timestamp: 9_999),    // t0, ON, (0,0)
            Event(x: 2, y: 1, polarity: 0, timestamp: 10_000),   // t1, OFF, (2,1)
            Event(x: 1, y: 0, polarity: 1, timestamp: 15_000),   // t1, ON, (1,0)
            Event(x: 1, y: 1, polarity: 0, timestamp: 29_999),   // t2, OFF, (1,1)
            Event(x: 1, y: 1, polarity: 0, timestamp: 30_000),   // past the last window: dropped
            Event(x: 3, y: 0, polarity: 0, timestamp: 1_000),    // outside the sensor: dropped
        ]
        let f = EventFrames.accumulate(events: ev, width: 3, height: 2, frameDuration: 0.010, timeSteps: 3)
        #expect(f.shape == [3, 2, 2, 3])
        var expected = [Float](repeating: 0, count: 36)
        func at(_ t: Int, _ c: Int, _ y: Int, _ x: Int) -> Int { ((t * 2 + c) * 2 + y) * 3 + x }
        expected[at(0, 1, 0, 0)] = 2
        expected[at(1, 0, 1, 2)] = 1
        expected[at(1, 1, 0, 1)] = 1
        expected[at(2, 0, 1, 1)] = 1
        #expect(f.data == expected)
        // A start time shifts the windows.
        let g = EventFrames.accumulate(events: ev, width: 3, height: 2, frameDuration: 0.010, timeSteps: 1, startTime: 10_000)
        #expect(g.sum() == 2)
    }
}
