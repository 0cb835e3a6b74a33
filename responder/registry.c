/* responder/registry.c - stub, being written */
