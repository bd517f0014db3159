import { addDelta, parseServerCounters, perRequest } from '../../../bench/harness/server-metrics';

const scrape = (start: number, complete: number, update: number): string =>
  [
    '# HELP service_requests service_requests counter',
    '# TYPE service_requests counter',
    `service_requests{namespace="default",operation="StartWorkflowExecution",service_name="frontend"} ${start}`,
    `service_requests{namespace="default",operation="StartWorkflowExecution",service_name="history"} ${start}`,
    `service_requests{namespace="default",operation="RespondWorkflowTaskCompleted",service_name="frontend"} ${complete}`,
    `persistence_requests{operation="UpdateWorkflowExecution",service_name="history"} ${update}`,
    `visibility_persistence_requests{operation="RecordWorkflowExecutionStarted",visibility_type="standard"} ${start}`,
    // Other families and lines without an operation are not counted.
    `service_latency_count{operation="StartWorkflowExecution"} 99`,
    `persistence_requests{service_name="history"} 7`,
    '',
  ].join('\n');

test("the server's counters are summed by family and operation, other families left out", () => {
  expect(Object.fromEntries(parseServerCounters(scrape(3, 6, 18)))).toEqual({
    'rpc StartWorkflowExecution': 6,
    'rpc RespondWorkflowTaskCompleted': 6,
    'persistence UpdateWorkflowExecution': 18,
    'visibility RecordWorkflowExecutionStarted': 3,
  });
});

test('counts between scrapes add up over windows and divide by the requests, small ones left out', () => {
  const into = new Map<string, number>();
  addDelta(into, parseServerCounters(scrape(3, 6, 18)), parseServerCounters(scrape(5, 10, 30)));
  addDelta(into, parseServerCounters(scrape(10, 20, 60)), parseServerCounters(scrape(12, 24, 72)));
  expect(perRequest(into, 4)).toEqual({
    'persistence UpdateWorkflowExecution': 6,
    'rpc RespondWorkflowTaskCompleted': 2,
    'rpc StartWorkflowExecution': 2,
    'visibility RecordWorkflowExecutionStarted': 1,
  });
  expect(perRequest(new Map([['rpc GetSystemInfo', 1]]), 100)).toEqual({});
});
