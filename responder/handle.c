/* responder/handle.c - stub, being written */
