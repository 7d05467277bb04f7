"""A retrieval-augmented agent over a 50-document help centre, with no server and no model.

The agent ships inside the package, in exporters/demo/rag_agent.py (with its data in exporters/demo/data/), so that
`agent-tracing demo` runs from an installed wheel; read it there. This runs it:
    python examples/rag_agent.py ["your question"]
"""

import sys

from exporters.demo.rag_agent import main

if __name__ == "__main__":
    main(sys.argv[1:])
