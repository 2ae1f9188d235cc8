package io.raftactors.persistence;
