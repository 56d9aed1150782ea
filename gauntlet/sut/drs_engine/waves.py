"""Wave dependency graphs: cycles, a deterministic topological order, what a failure skips.

A graph maps each wave number to the wave numbers it depends on. Waves run one at a time: the
next wave is the lowest-numbered one whose dependencies have all COMPLETED, which is exactly
:func:`wave_order` when nothing fails.
"""

from __future__ import annotations

import heapq
from typing import Dict, Iterable, List, Mapping, Optional, Set

Graph = Mapping[int, Iterable[int]]


def find_cycles(graph: Graph) -> List[List[int]]:
    """One cycle per strongly connected component that has one, as ``[a, b, ..., a]``.

    Read ``a -> b`` as "a depends on b". Each cycle starts at its lowest wave number, so the
    second-to-last entry is the wave whose DependsOn closes the loop. Self-loops are ignored
    here (the plan validator reports them on their own).
    """
    cycles = []
    for component in _strongly_connected(graph):
        if len(component) > 1:
            cycles.append(_cycle_through(min(component), component, graph))
    return sorted(cycles)


def wave_order(graph: Graph) -> List[int]:
    """Topological order, dependencies first, ties broken by the lower wave number.

    Raises ValueError naming a cycle if there is one.
    """
    cycles = find_cycles(graph)
    if cycles:
        raise ValueError("circular dependency " + " -> ".join(map(str, cycles[0])))
    remaining = {node: {d for d in deps if d != node} for node, deps in graph.items()}
    ready = [node for node, deps in remaining.items() if not deps]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for other, deps in remaining.items():
            if node in deps:
                deps.discard(node)
                if not deps:
                    heapq.heappush(ready, other)
    return order


def next_ready(graph: Graph, statuses: Mapping[int, str]) -> Optional[int]:
    """The lowest PENDING wave whose dependencies all COMPLETED, or None."""
    ready = [node for node, deps in graph.items()
             if statuses.get(node) == "PENDING"
             and all(statuses.get(d) == "COMPLETED" for d in deps if d != node)]
    return min(ready) if ready else None


def dependents(graph: Graph, wave: int) -> Set[int]:
    """Every wave that depends on ``wave``, directly or through other waves."""
    found: Set[int] = set()
    frontier = [wave]
    while frontier:
        current = frontier.pop()
        for node, deps in graph.items():
            if current in deps and node not in found and node != wave:
                found.add(node)
                frontier.append(node)
    return found


def _strongly_connected(graph: Graph) -> List[Set[int]]:
    """Tarjan's algorithm, iterative so deep graphs do not hit the recursion limit."""
    index: Dict[int, int] = {}
    low: Dict[int, int] = {}
    stack: List[int] = []
    on_stack: Set[int] = set()
    components: List[Set[int]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _cycle_through(start: int, component: Set[int], graph: Graph) -> List[int]:
    """Shortest path start -> ... -> start inside one strongly connected component (BFS)."""
    parents: Dict[int, int] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child not in component:
                    continue
                if child == start:
                    if node == start:
                        continue  # a self-loop is not the cycle we are after
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(parents[chain[-1]])
                    return list(reversed(chain)) + [start]
                if child not in parents:
                    parents[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")  # pragma: no cover
