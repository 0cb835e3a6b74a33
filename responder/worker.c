/* responder/worker.c - stub, being written */
