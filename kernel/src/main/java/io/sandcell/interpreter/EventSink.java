package io.sandcell.interpreter;

/** Receives a request's events as they arrive and answers input requests. */
public interface EventSink {
    /** Called for every event but the final reply. */
    void event(DriverEvent event);

    /**
     * Asks the user for input. Returns the text, or null when the request was interrupted.
     */
    String input(String prompt, boolean password);
}
